"""The regex engine's patterns for radiology free text: what presidio lacks for reports, plus URLs, paths and UIDs.

Case rules are inline (the patterns run without IGNORECASE, or every word would be a name). A pattern with a
``phi`` group replaces only that group: "discussed with Dr. House" keeps its cue, loses the name.
"""
from __future__ import annotations

from curation.deid.dates import DATE_PATTERNS

# "MR"/"MS" only with a dot: MR angiography, MS lesions
_TITLE = r"(?:(?:(?:Dr|DR|Doctor|DOCTOR|Prof|PROF|Professor|Mr|Mrs|Ms|Miss|Mx|MRS)\.?|(?:MR|MS)\.)[ \t]+)"
_ACRONYMS = r"(?:CT|MRI?|PET|US|ICU|ER|ED|OR|IV|PACS|RECIST|MRN|DOB|ACC|PA|NP|MD|DO|RN|LUNGS?|LIVER|KIDNEYS?|IMPRESSION|FINDINGS)"
# Title-case, UPPER (3+), McName, O'Name; any script's letters (José, Núñez)
_NAME_WORD = (rf"(?!(?:{_ACRONYMS}|Dr|Doctor|Prof|Mr|Mrs|Ms|Miss)\b)(?:\p{{Lu}}['’]?\p{{Lu}}?\p{{Ll}}+(?:['’-]\p{{L}}+)*|\p{{Lu}}{{3,}}(?:['’-]\p{{Lu}}+)*|"
              rf"\p{{Lu}}\p{{Ll}}*\p{{Lu}}\p{{Ll}}+)")
_INITIAL = r"(?:[ \t]+[A-Z](?:\.|\b))"
NAME = rf"{_TITLE}?(?:[A-Z]\.[ \t]*){{0,2}}{_NAME_WORD}{_INITIAL}?(?:,?[ \t]+{_NAME_WORD}){{0,2}}\b"
# phrases after which radiology reports write a person's name
_CUES = (r"discussed with|communicated (?:to|with)|conveyed to|relayed to|reported to|(?<!so-)called|paged|notified|"
         r"informed|contacted|spoke (?:with|to)|spoken (?:with|to)|reviewed with|d/w|dictated by|transcribed by|"
         r"signed by|reported by|read by|reviewed by|verified by|approved by|confirmed by|interpreted by|prepared by|"
         r"performed by|requested by|attending(?: physician| radiologist)?|radiologist|resident|fellow|"
         r"technologist|dictating (?:physician|radiologist)|cc:|copy to|"
         r"referring(?: physician| provider| doctor| clinician)?|ordering(?: physician| provider)?|/s/")
_CUE_NAME = (rf"(?i:\b(?:{_CUES}))[ \t]*(?::[ \t]*|,[ \t]*|[ \t]+)"
             rf"(?:(?i:the[ \t]+)?(?i:referring|ordering)[ \t]+(?i:physician|provider),?[ \t]+)?"
             rf"(?:(?i:to|with)[ \t]+)?(?P<phi>{NAME})")

PATHS = (r"(?<![\w/.\\-])(?:[A-Za-z]:|\\\\)?[\\/](?=[^\s\\/])(?:[^\\/\n:*?\"<>|]+[\\/])+"
         r"(?:[^\\/\n:*?\"<>|]*?\.(?i:dcm|dicom|ima|img|nii|nii\.gz|gz|json|jsonl|csv|tsv|txt|parquet|pt|pth|ckpt|"
         r"safetensors|bin|zip|tar|xml|pdf)\b|[^\s\\/:*?\"<>|,;()']*)")

# (entity, regex, score)
PATTERNS: list[tuple[str, str, float]] = [
    # a line that starts as a signature goes whole; a cue inside a sentence only takes the name after it
    ("SIGNATURE", r"(?m)^[ \t]*(?:(?i:(?:electronically signed|signed by|dictated by|transcribed by|reported by|"
                  r"read by|attending(?: radiologist)?:|radiologist:|signed:|signature:))|/s/)[^\n]*$", 0.9),
    ("PERSON", _CUE_NAME, 0.85),
    ("PERSON", rf"{_TITLE}(?:[A-Z]\.[ \t]*){{0,2}}{_NAME_WORD}{_INITIAL}?(?:[ \t]+{_NAME_WORD})?\b", 0.8),
    ("PERSON", rf"\b{_NAME_WORD}{_INITIAL}?[ \t]+{_NAME_WORD},?[ \t]+(?:MD|M\.D\.|DO|PhD|RN|PA-C|FRCR|MBBS|RT)\b", 0.8),
    ("PERSON", rf"(?i:\b(?:patient|pt|name|patient name)[ \t]*[:.][ \t]*)(?P<phi>{_NAME_WORD}(?:[ ,^]+{_NAME_WORD}){{0,2}})", 0.8),
    ("MRN", r"(?i:\b(?:MRN|MR\s?#|MR\s?no\.?|med(?:ical)?\s+rec(?:ord)?(?:\s+(?:number|no\.?|#))?|patient\s+id|"
            r"hospital\s+(?:number|no\.?)|chart\s+(?:number|no\.?|#)|NHS\s+(?:number|no\.?))\s*[:#]?\s*)"
            r"[A-Za-z0-9][A-Za-z0-9-]{3,}\b", 0.9),
    ("ACCESSION", r"(?i:\b(?:accession(?:\s+(?:number|no\.?|#))?|acc\s?(?:#|no\.?|num)|order\s+(?:number|no\.?|#)|"
                  r"exam\s+(?:number|no\.?|#))\s*[:#]?\s*)[A-Za-z0-9][A-Za-z0-9-]{3,}\b", 0.9),
    # MRN/accession forms without a label: letters then 5+ digits ("ACC0004521", "E1234567"), 7+ digit runs
    ("ID", r"(?<![\w.])[A-Z]{1,5}-?\d{5,}(?!\w|\.\d)", 0.6),
    ("ID", r"(?<![\w.,])\d{7,}(?!\w|[.,]\d)", 0.6),
    ("ID", r"(?i:\bSSN\s*[:#]?\s*)\d{3}-?\d{2}-?\d{4}\b|\b\d{3}-\d{2}-\d{4}\b", 0.8),
    ("EMAIL_ADDRESS", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", 0.8),  # also local domains presidio's check rejects
    ("ADDRESS", r"\b\d{1,5}\s+(?:\p{Lu}\p{Ll}+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|"
                r"Dr|Way|Court|Ct|Place|Pl|Terrace|Parkway|Square|Sq)\b\.?(?:,\s*\p{Lu}\p{Ll}+(?:\s\p{Lu}\p{Ll}+)?\b)?", 0.7),
    ("ADDRESS", r"\b(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI|S[CD]|T[NX]|"
                r"UT|V[AT]|W[AIVY]),?\s+\d{5}(?:-\d{4})?\b", 0.7),
    ("INSTITUTION", r"\b(?:(?:St\.?|Saint|\p{Lu}\p{Ll}+)\s+){1,4}(?:Hospital|Medical Cent(?:er|re)|Clinic|Infirmary|"
                    r"Health(?: System| Centre| Center)?|Imaging Cent(?:er|re)|Cancer Cent(?:er|re)|Radiology Associates)\b", 0.6),
    ("AGE", r"(?<![\w.])(?:9\d|1[0-4]\d)(?=\s*-?\s*(?i:years?|yrs?|y/?o\b|yo\b|y\.o\.|-?year-old|-?yr-old)|\s?[MF]\b|yo[mf]\b)", 0.9),
    ("AGE", r"(?i:\b(?:ninety|one hundred(?: and)?)(?:[-\s](?:one|two|three|four|five|six|seven|eight|nine))?)"
            r"(?=[-\s]*(?i:years?|yrs?|yo\b|year-old))", 0.9),
    ("AGE", r"(?i:\bage[d:]?)\s*(?P<phi>9\d|1[0-4]\d)(?!\w|\.\d)", 0.9),
    ("PHONE_NUMBER", r"(?<![\w.])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?:\s*(?i:x|ext\.?)\s*\d{1,5})?(?!\w)", 0.7),
    ("PHONE_NUMBER", r"(?<![\w.])\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?!\w)", 0.7),
    ("PHONE_NUMBER", r"(?i:\b(?:ext|extension|pager|beeper|bleep|tel|phone|fax)\.?\s*[:#]?\s*)\d{3,6}\b", 0.7),
    ("PHONE_NUMBER", r"(?<![\w.-])\d{3}-\d{4}(?![\w-])|(?<![\w.])0\d{2,4}[\s-]\d{3,4}[\s-]\d{3,4}(?!\w)", 0.5),
    ("URL", r"(?i:\b(?:https?|ftp|file)://[^\s<>\"']+|\bwww\d{0,3}\.[^\s<>\"']+)", 0.9),
    ("URL", r"(?i:\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|io|info|health|med|nhs\.uk|co\.uk|ac\.uk)\b"
            r"(?:/[^\s<>\"']*)?)", 0.6),
    ("PATH", PATHS, 0.95),
    ("UID", r"\b\d+(?:\.\d+){3,}\b", 0.95),
] + [("DATE", rx, 0.9) for _, rx in DATE_PATTERNS]

PLACEHOLDER = {"PERSON": "[NAME]", "KNOWN_PHI": "[REDACTED]", "EMAIL_ADDRESS": "[EMAIL]", "URL": "[URL]",
               "PHONE_NUMBER": "[PHONE]", "IP_ADDRESS": "[ID]", "ID": "[ID]", "MRN": "[MRN]",
               "ACCESSION": "[ACCESSION]", "SIGNATURE": "[SIGNATURE]", "DATE": "[DATE]", "AGE": "90+",
               "PATH": "[PATH]", "UID": "[UID]", "ADDRESS": "[ADDRESS]", "INSTITUTION": "[INSTITUTION]"}
