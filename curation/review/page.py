"""The review page: the QC report's styles and mask sections, a list of masks (unreviewed first) and keyboard
scoring. The script is served as its own file so the page can forbid inline script (Content-Security-Policy)."""
from __future__ import annotations

import html

from curation.report.lesions import CSS, LEGEND

REVIEW_CSS = CSS + """
body{max-width:none}#layout{display:flex;gap:1.2em;align-items:flex-start}
#list{flex:0 0 26em;max-height:92vh;overflow:auto}#list tr{cursor:pointer}#list tr.current{background:#dde8ff}
#list td.score-accept{color:#080}#list td.score-minor{color:#a60}#list td.score-major{color:#b00}
#detail{flex:1}#bar{position:sticky;top:0;background:#fff;padding:.4em 0;border-bottom:1px solid #ccc}
#bar button{margin-right:.4em}#comment{width:60%;vertical-align:middle}kbd{border:1px solid #999;border-radius:3px;
padding:0 .3em;font-size:.85em}#status{margin-left:1em;color:#555}
"""

SCRIPT = r"""
'use strict';
const S = {masks: [], i: -1, saved: 0, reviewer: '', busy: false};
const $ = (id) => document.getElementById(id);

function setStatus(text, bad) { const s = $('status'); s.textContent = text; s.style.color = bad ? '#b00' : '#555'; }

function renderList() {
  const body = $('rows');
  body.textContent = '';
  S.masks.forEach((m, i) => {
    const tr = document.createElement('tr');
    tr.dataset.maskId = m.mask_id;
    if (i === S.i) tr.className = 'current';
    const cells = [m.mask_id.slice(0, 12), m.prompt_kind, (m.study || '').slice(-10), m.qc_verdict || 'no QC',
                   m.my_score || '', String(m.n_reviewers)];
    cells.forEach((text, j) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (j === 4 && m.my_score) td.className = 'score-' + m.my_score;
      tr.appendChild(td);
    });
    tr.addEventListener('click', () => show(i));
    body.appendChild(tr);
  });
  const done = S.masks.filter((m) => m.my_score).length;
  $('progress').textContent = done + ' of ' + S.masks.length + ' scored by you';
}

async function show(i) {
  if (i < 0 || i >= S.masks.length) return;
  S.i = i;
  renderList();
  const m = S.masks[i];
  const r = await fetch('api/masks/' + encodeURIComponent(m.mask_id) + '/section');
  const text = r.ok ? await r.text() : '<p class="fail">could not load this mask</p>';
  if (S.i !== i) return;  // the reviewer moved on while this one loaded
  $('section').innerHTML = text;
  $('current').textContent = (i + 1) + ' / ' + S.masks.length + (m.my_score ? ' · your score: ' + m.my_score : '');
  const row = document.querySelector('#rows tr.current');
  if (row) row.scrollIntoView({block: 'nearest'});
}

async function score(value) {
  const m = S.masks[S.i];
  if (!m || S.busy) return;  // one save at a time: a second key press must not score the same mask again
  S.busy = true;
  const comment = $('comment').value.trim();
  let r, reply;
  try {
    r = await fetch('api/reviews', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({mask_id: m.mask_id, score: value, comment: comment || null, reviewer: S.reviewer})});
    reply = await r.json().catch(() => ({}));
  } catch (err) {
    setStatus('not saved: ' + err, true);
    return;
  } finally {
    S.busy = false;
  }
  if (r.status !== 201) { setStatus('not saved: ' + (reply.detail || r.status), true); return; }
  if (!m.my_score) m.n_reviewers += 1;
  m.my_score = value;
  $('comment').value = '';
  S.saved += 1;
  document.body.dataset.saved = String(S.saved);
  setStatus('saved ' + value + ' for ' + m.mask_id.slice(0, 12));
  if (S.i + 1 < S.masks.length) await show(S.i + 1); else renderList();
}

function imagesLoaded(root) {
  return Promise.all(Array.from(root.querySelectorAll('img')).map((i) =>
    i.complete ? null : new Promise((done) => { i.addEventListener('load', done); i.addEventListener('error', done); })));
}

async function load() {
  const r = await fetch('api/masks?reviewer=' + encodeURIComponent(S.reviewer));
  const data = await r.json();
  S.masks = data.masks;
  const first = S.masks.findIndex((m) => !m.my_score);
  if (S.masks.length) await show(first < 0 ? 0 : first); else renderList();
  await imagesLoaded($('section'));
  // ms from navigation until the first mask is on screen with its pictures (read by benchmarks/bench_review.py)
  if (!document.body.dataset.firstMaskMs) document.body.dataset.firstMaskMs = String(Math.round(performance.now()));
  document.body.dataset.ready = '1';
}

document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'TEXTAREA' || e.target.tagName === 'INPUT') {
    if (e.key === 'Escape') e.target.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const keys = {'1': () => score('accept'), '2': () => score('minor'), '3': () => score('major'),
                'n': () => show(S.i + 1), 'p': () => show(S.i - 1), 'c': () => $('comment').focus()};
  if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
});

window.addEventListener('DOMContentLoaded', () => {
  const input = $('reviewer');
  S.reviewer = localStorage.getItem('opseg-reviewer') || document.body.dataset.defaultReviewer || '';
  input.value = S.reviewer;
  input.addEventListener('change', () => {
    S.reviewer = input.value.trim();
    localStorage.setItem('opseg-reviewer', S.reviewer);
    load();
  });
  document.querySelectorAll('button[data-score]').forEach((b) => b.addEventListener('click', () => score(b.dataset.score)));
  load();
});
"""


def render_page(default_reviewer: str, served_label: str) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>opseg review</title>"
            f"<style>{REVIEW_CSS}</style><script src='review.js' defer></script></head>"
            f"<body data-default-reviewer='{html.escape(default_reviewer, quote=True)}'>"
            f"<h1>opseg review <small class='na'>{html.escape(served_label)}</small></h1>"
            "<div id='layout'><div id='list'><p>reviewer <input id='reviewer' size='16' aria-label='reviewer'> "
            "<span id='progress'></span></p>"
            "<table><thead><tr><th>mask</th><th>kind</th><th>study</th><th>QC</th><th>your score</th>"
            "<th>reviewers</th></tr></thead><tbody id='rows'></tbody></table></div>"
            "<div id='detail'><div id='bar'><b id='current'></b> "
            "<button data-score='accept'><kbd>1</kbd> acceptable</button>"
            "<button data-score='minor'><kbd>2</kbd> minor edits</button>"
            "<button data-score='major'><kbd>3</kbd> major edits</button> "
            "<kbd>n</kbd>/<kbd>p</kbd> next/previous · <kbd>c</kbd> comment (<kbd>Esc</kbd> leaves it) "
            "<textarea id='comment' rows='1' maxlength='2000' placeholder='comment (sent with the score)'></textarea>"
            "<span id='status'></span>"
            f"{LEGEND}</div>"
            "<div id='section'></div></div></div></body></html>\n")
