"""RadGraph entities -> the finding fields opseg stores; shared by every finding backend.

Labels of the v1 schema (ANAT-DP, OBS-DP, OBS-DA, OBS-U) and of the XL schema ("Observation::definitely
absent", "Anatomy::definitely present", measurement sub-labels, ...) are normalised to the v1 names.
"""
from __future__ import annotations

import re

HISTORY = re.compile(r"\b(known|again seen|history of|previously (?:seen|noted|described)|stable|unchanged)\b", re.IGNORECASE)
LATERALITY = re.compile(r"\b(left|right|bilateral|bilaterally|lingula|lingular|[RL](?:UL|ML|LL))\b", re.IGNORECASE)
SIDE_OF = {"lingula": "left", "lingular": "left", "rul": "right", "rml": "right", "rll": "right", "lul": "left",
           "lml": "left", "lll": "left", "bilaterally": "bilateral"}


def side_words(text: str) -> set[str]:
    """'left', 'right' or 'bilateral' for each side word; lung-lobe abbreviations and the lingula have a side."""
    return {SIDE_OF.get(w.lower(), w.lower()) for w in LATERALITY.findall(text or "")}
CERTAINTY = {"definitely present": "DP", "definitely absent": "DA", "uncertain": "U", "present": "DP", "absent": "DA"}


def normalise_label(label: str) -> str:
    """'Observation::definitely absent' -> 'OBS-DA'; v1 labels pass through."""
    if "::" not in label:
        return label
    parts = [p.strip().lower() for p in label.split("::")]
    kind = "ANAT" if parts[0].startswith("anat") else "OBS"
    return f"{kind}-{CERTAINTY.get(parts[-1], 'DP')}"


def summarise(text: str, entities: dict) -> dict:
    """observation, anatomy, laterality, negated, uncertain, history from normalised entities."""
    ents = {k: {**v, "label": normalise_label(v["label"])} for k, v in entities.items()}
    modifiers = {k for k, v in ents.items() if any(r[0] == "modify" for r in v["relations"])}
    obs = [k for k, v in ents.items() if v["label"].startswith("OBS") and k not in modifiers]
    main = obs[0] if obs else None
    located = None
    if main is not None:
        target = next((r[1] for r in ents[main]["relations"] if r[0] == "located_at"), None)
        located = ents.get(target)
    anatomy = located or next((v for v in ents.values() if v["label"].startswith("ANAT")), None)
    words = side_words(located["tokens"] if located else "") or side_words(text)
    laterality = None
    if words:
        laterality = "bilateral" if "bilateral" in words or {"left", "right"} <= words else words.pop()
    in_text_order = sorted(modifiers, key=lambda k: (ents[k].get("start_ix", 0), k))  # not set order: that varies per process
    described = [ents[k]["tokens"] for k in in_text_order if main and any(r == ["modify", main] for r in ents[k]["relations"])]
    return {
        "radgraph": {"text": text, "entities": ents},
        "observation": " ".join(described + [ents[main]["tokens"]]) if main else None,
        "anatomy": anatomy["tokens"] if anatomy else None,
        "laterality": laterality,
        "negated": bool(main and ents[main]["label"] == "OBS-DA"),
        "uncertain": bool(main and ents[main]["label"] == "OBS-U"),
        "history": bool(HISTORY.search(text)),
    }
