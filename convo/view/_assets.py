"""The stylesheet and the script every page carries inline (no file, no network, no library).

Layer: view. The page's Content-Security-Policy allows exactly these two (by their SHA-256), so
nothing else on a page can run or style it. The script wires the list page (search, filters,
paging, the detail pane, lines kept deflated until shown) and a few conveniences on any page;
a single-conversation page reads fine without it.
"""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root{--bg:#fbfbfa;--fg:#1d1d1f;--mute:#6b6b70;--line:#e3e3e0;--card:#fff;--user:#2f6fdb;--asst:#1f8a4c;
--sys:#b7791f;--err:#c62828;--warn:#b26a00;--think:#7a4fb5;--tool:#0f7c86;--hl:#ffe9a8;--code:#f3f3f1}
@media (prefers-color-scheme:dark){:root{--bg:#17181a;--fg:#e8e8e6;--mute:#9a9aa0;--line:#2d2f33;--card:#1f2023;
--code:#26282c;--hl:#5a4a12}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--user)}
code,pre,.json{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-word;background:var(--code);padding:6px 8px;border-radius:6px;margin:4px 0;max-height:32em;overflow:auto}
.pagehead{padding:10px 16px;border-bottom:1px solid var(--line);background:var(--card);display:flex;flex-wrap:wrap;gap:6px 18px;align-items:baseline}
.pagehead h1{font-size:16px;margin:0}
.pagehead .stat{color:var(--mute)}
.pagehead .stat b{color:var(--fg)}
.controls{display:flex;flex-wrap:wrap;gap:8px;padding:8px 16px;border-bottom:1px solid var(--line);align-items:center;background:var(--bg)}
.controls input,.controls select,.controls button{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
.controls input[type=search]{min-width:18em;flex:1}
#status{color:var(--mute)}
body.list-page{height:100vh;display:flex;flex-direction:column;overflow:hidden}
.layout{display:grid;grid-template-columns:minmax(320px,38%) 1fr;flex:1;min-height:0}
.list{overflow:auto;border-right:1px solid var(--line)}
.detail{overflow:auto;padding:12px 16px}
@media (max-width:900px){body.list-page{height:auto;overflow:visible}.layout{grid-template-columns:1fr}.list{max-height:50vh}}
table.rows{border-collapse:collapse;width:100%;table-layout:fixed}
table.rows td.n{width:4.5em}
table.rows .sub{color:var(--mute);font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
table.rows td{padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top;cursor:pointer}
table.rows tr:hover td{background:var(--code)}
table.rows tr.sel td{background:var(--hl)}
table.rows td.n{color:var(--mute);text-align:right;white-space:nowrap}
table.rows .t{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.pager{display:flex;gap:8px;align-items:center;padding:8px}
.badge{display:inline-block;font-size:11px;padding:0 5px;border-radius:8px;border:1px solid currentColor;margin-right:3px}
.badge.err,.badge.refusal,.badge.bad{color:var(--err)}.badge.warn{color:var(--warn)}.badge.tool{color:var(--tool)}
.item{max-width:980px;margin:0 auto 24px}
.single .item{padding:12px 16px}
.item-head{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline;padding:6px 0;border-bottom:2px solid var(--line);margin-bottom:8px}
.item-head .where{font-weight:600}.item-head .kind{color:var(--mute)}.item-head .model{font-family:ui-monospace,monospace}
.meta,.note{color:var(--mute);font-size:12.5px}
.note.bad,.meta.bad,.bad{color:var(--err)}
.params{margin:6px 0}
.chips{display:flex;flex-wrap:wrap;gap:4px}
.chip{background:var(--code);border-radius:6px;padding:1px 7px;font:12px/1.6 ui-monospace,monospace;max-width:100%;overflow-wrap:anywhere}
.chip.extra{border:1px dashed var(--mute)}
.chip.bad{background:color-mix(in srgb,var(--err) 15%,var(--card));box-shadow:inset 0 0 0 1px var(--err)}
details.tools{margin:6px 0}
details summary{cursor:pointer;color:var(--mute)}
.turn{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--mute);border-radius:8px;padding:6px 10px;margin:8px 0}
.turn .role{font-weight:600;text-transform:none;margin-bottom:4px}
.turn.user{border-left-color:var(--user)}.turn.user>.role{color:var(--user)}
.turn.assistant{border-left-color:var(--asst)}.turn.assistant>.role{color:var(--asst)}
.turn.system{border-left-color:var(--sys);background:color-mix(in srgb,var(--sys) 7%,var(--card))}.turn.system>.role{color:var(--sys)}
.turn.response{border-width:2px;border-left-width:4px}
.turn.error{border-left-color:var(--err)}
.turn.has-violation,.block.has-violation{box-shadow:inset 0 0 0 1px var(--err)}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.block{margin:4px 0}
.block.nested{margin:2px 0 2px 8px}
.blabel{font-size:12.5px;color:var(--mute);margin-bottom:2px}
.blabel .kind{font-weight:600;color:var(--fg)}
.tool-use,.tool-result{border:1px solid var(--line);border-radius:6px;padding:4px 8px}
.tool-use{border-left:3px solid var(--tool)}
.tool-result{border-left:3px solid var(--mute)}
.tool-result.error{border-left-color:var(--err);background:color-mix(in srgb,var(--err) 6%,var(--card))}
.err-flag{color:var(--err);font-weight:700}
.tool-name{color:var(--tool)}
a.link{font-size:12px;margin-left:6px;text-decoration:none;border-bottom:1px dotted}
details.thinking{border-left:3px solid var(--think);padding:2px 8px;background:color-mix(in srgb,var(--think) 6%,var(--card));border-radius:4px}
details.thinking>summary{color:var(--think)}
code.opaque{word-break:break-all}
figure.image{margin:4px 0;display:inline-block;vertical-align:top}
img.thumb{max-width:220px;max-height:160px;border:1px solid var(--line);border-radius:4px;display:block;background:repeating-conic-gradient(#ddd 0 25%,#fff 0 50%) 0/12px 12px}
figcaption{font-size:12px;color:var(--mute)}
.document{border:1px solid var(--line);border-radius:6px;padding:6px 8px;display:inline-block;min-width:16em;max-width:100%}
.doc-kind{font:700 10px/1 system-ui,sans-serif;border:1.5px solid currentColor;border-radius:3px;padding:3px 4px;margin-right:6px;color:var(--err);vertical-align:2px}
.citations{font-size:12.5px;color:var(--mute);margin:2px 0 2px 1.2em;padding:0}
.cite-mark{color:var(--user)}
.stop{font:12px ui-monospace,monospace;padding:0 6px;border-radius:8px;background:var(--code)}
.stop-refusal{background:var(--err);color:#fff}.stop-warn{background:var(--warn);color:#fff}.stop-tool{color:var(--tool)}
.banner{border-radius:6px;padding:8px 10px;margin:6px 0}
.banner.refusal,.banner.error{background:color-mix(in srgb,var(--err) 12%,var(--card));border:2px solid var(--err);color:var(--err)}
.banner.refusal strong{font-size:16px}
.banner.info{background:var(--code)}
table.usage{border-collapse:collapse;font-size:12.5px;margin-top:6px}
table.usage th{text-align:left;font-weight:500;color:var(--mute);padding:1px 12px 1px 0}
table.usage td{text-align:right;font-variant-numeric:tabular-nums}
.violations{border:1px solid var(--err);border-radius:8px;padding:6px 10px;margin:8px 0;background:color-mix(in srgb,var(--err) 5%,var(--card))}
.violations ul{margin:4px 0;padding-left:1.2em}
.violation .sev{font-weight:700;text-transform:uppercase;font-size:11px}
.violation.error .sev{color:var(--err)}.violation.warning .sev{color:var(--warn)}
div.violation{font-size:12.5px;border-left:3px solid var(--err);padding-left:6px;margin:2px 0}
div.violation.warning{border-left-color:var(--warn)}
.hint{color:var(--mute)}
:target{outline:3px solid #f5a623;outline-offset:2px;scroll-margin-top:60px}
.side{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.side>div{min-width:0}
table.summary{border-collapse:collapse;margin:8px 0}
table.summary td,table.summary th{padding:3px 10px;border-bottom:1px solid var(--line);text-align:left}
table.summary td.num{text-align:right;font-variant-numeric:tabular-nums}
table.summary td:first-child{white-space:nowrap}
.tables{display:flex;flex-wrap:wrap;gap:16px;padding:16px 16px 0}
.tables>.chart{flex:0 1 auto;max-width:100%;overflow:auto}
.changes li{margin:2px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px;padding:16px}
.chart{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.chart h2{font-size:14px;margin:0 0 6px}
.chart svg text{fill:var(--fg);font:11px system-ui,sans-serif}
.chart svg .bar{fill:var(--user)}.chart svg .bar.alt{fill:var(--asst)}.chart svg .axis{stroke:var(--line)}
main.report{padding:8px 16px;max-width:1400px}
"""

JS = r"""
(() => {
"use strict";
const d = document, $ = (id) => d.getElementById(id);
const toggle = $("toggle-thinking");
if (toggle) toggle.addEventListener("click", () => {
  const all = d.querySelectorAll("details.thinking");
  const open = ![...all].every((x) => x.open);
  all.forEach((x) => { x.open = open; });
});
const metaEl = $("convo-meta");
if (!metaEl) { d.body.dataset.ready = "1"; return; }
const meta = JSON.parse(metaEl.textContent);
const status = $("status"), detail = $("detail"), body = $("rows-body");
const say = (t) => { status.textContent = t; };
if (typeof DecompressionStream === "undefined") {
  say("This browser cannot read this page's compressed lines (it has no DecompressionStream).");
  return;
}
const bytes = (s) => { const b = atob(s), u = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return u; };
const inflate = (id) => new Response(new Blob([bytes($(id).textContent)]).stream()
  .pipeThrough(new DecompressionStream("deflate-raw"))).text();
const find = (starts, i) => { let lo = 0, hi = starts.length - 1; while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid] <= i) lo = mid; else hi = mid - 1; } return lo; };
const cache = new Map();
async function htmlOf(i) {
  const c = find(meta.chunks, i);
  let part = cache.get(c);
  if (!part) {
    part = JSON.parse(await inflate("convo-h" + c));
    cache.set(c, part);
    if (cache.size > 6) cache.delete(cache.keys().next().value);
  }
  return part[i - meta.chunks[c]];
}
let texts = null, textsPromise = null;
function loadTexts() {
  if (!textsPromise) textsPromise = (async () => {
    const all = [];
    for (let c = 0; c < meta.text_chunks.length; c++) {
      say("reading the text of every line for search… " + Math.round(100 * c / meta.text_chunks.length) + "%");
      for (const s of JSON.parse(await inflate("convo-t" + c))) all.push(s);
    }
    texts = all;
    return all;
  })();
  return textsPromise;
}
let rows = [], shown = [], page = 0, current = -1, gen = 0;
const per = meta.page_size;
const FLAGS = {1: ["err", "invalid"], 2: ["warn", "warnings"], 4: ["refusal", "refusal"], 8: ["bad", "tool error"], 16: ["bad", "undecodable"], 32: ["bad", "API error"], 256: ["warn", "max_tokens"]};
function badge(cls, text) { const s = d.createElement("span"); s.className = "badge " + cls; s.textContent = text; return s; }
function cell(text, cls) { const td = d.createElement("td"); if (cls) td.className = cls; if (text !== null) td.textContent = text; return td; }
function draw() {
  const pages = Math.max(1, Math.ceil(shown.length / per));
  if (page >= pages) page = pages - 1;
  const frag = d.createDocumentFragment();
  for (const i of shown.slice(page * per, page * per + per)) {
    const r = rows[i], tr = d.createElement("tr");
    tr.dataset.i = i;
    if (i === current) tr.className = "sel";
    const n = cell(String(r[0]), "n");
    if (meta.files.length > 1) n.title = meta.files[r[1]];
    tr.appendChild(n);
    const main = cell(null), t = d.createElement("div"), sub = d.createElement("div");
    t.className = "t"; t.textContent = r[9];
    sub.className = "sub";
    const bits = [];
    if (meta.files.length > 1) bits.push(meta.files[r[1]]);
    if (r[4] >= 0) bits.push(meta.models[r[4]][0]);
    if (r[5] !== null) bits.push(r[5] + " turns");
    sub.textContent = bits.join(" · ") + " ";
    if (r[6] >= 0) sub.appendChild(badge(meta.stops[r[6]][0] === "refusal" ? "refusal" : "tool", meta.stops[r[6]][0]));
    for (const [bit, [cls, text]] of Object.entries(FLAGS)) if (r[7] & bit && !(bit == 4 && r[6] >= 0 && meta.stops[r[6]][0] === "refusal")) sub.appendChild(badge(cls, text));
    main.append(t, sub);
    tr.appendChild(main);
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
  $("page").textContent = "page " + (page + 1) + " of " + pages;
  $("prev").disabled = page === 0;
  $("next").disabled = page >= pages - 1;
  say(shown.length.toLocaleString() + " of " + rows.length.toLocaleString() + " lines");
}
async function filter() {
  const my = ++gen;
  const q = $("q").value.toLowerCase().split(/\s+/).filter(Boolean);
  const model = $("model").value, rule = $("rule").value, flag = $("flag").value;
  if (q.length && !texts) { await loadTexts(); if (my !== gen) return; }
  const mi = model === "" ? -1 : +model, ri = rule === "" ? -1 : +rule, fb = flag === "" ? 0 : +flag;
  const out = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (mi >= 0 && r[4] !== mi) continue;
    if (ri >= 0 && !r[8].includes(ri)) continue;
    if (fb && !(r[7] & fb)) continue;
    if (q.length) { const t = texts[i]; if (!q.every((w) => t.includes(w))) continue; }
    out.push(i);
  }
  shown = out; page = 0; draw();
}
async function show(i) {
  if (i < 0 || i >= rows.length) return;
  current = i;
  d.querySelectorAll("tr.sel").forEach((x) => x.classList.remove("sel"));
  const tr = body.querySelector('tr[data-i="' + i + '"]');
  if (tr) tr.classList.add("sel");
  detail.innerHTML = await htmlOf(i);  // markup convo wrote, every transcript string escaped
  detail.scrollTop = 0;
  history.replaceState(null, "", "#item-" + i);
}
let timer = 0;
$("q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(filter, 200); });
for (const id of ["model", "rule", "flag"]) $(id).addEventListener("change", filter);
$("prev").addEventListener("click", () => { page--; draw(); });
$("next").addEventListener("click", () => { page++; draw(); });
body.addEventListener("click", (e) => { const tr = e.target.closest("tr"); if (tr) show(+tr.dataset.i); });
d.addEventListener("keydown", (e) => {
  if (e.target.closest("input,select")) return;
  if (e.key !== "j" && e.key !== "k" && e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
  const at = shown.indexOf(current), next = shown[at + ((e.key === "j" || e.key === "ArrowDown") ? 1 : -1)];
  if (next === undefined) return;
  e.preventDefault();
  const p = Math.floor(shown.indexOf(next) / per);
  if (p !== page) { page = p; draw(); }
  show(next);
});
window.addEventListener("hashchange", () => {
  const h = /^#item-(\d+)$/.exec(location.hash);
  if (!h || +h[1] >= rows.length || +h[1] === current) return;
  const at = shown.indexOf(+h[1]);
  if (at >= 0 && Math.floor(at / per) !== page) { page = Math.floor(at / per); draw(); }
  show(+h[1]);
});
(async () => {
  say("opening…");
  rows = JSON.parse(await inflate("convo-index"));
  shown = rows.map((_, i) => i);
  const h = /^#item-(\d+)$/.exec(location.hash);
  const first = h ? Math.min(+h[1], rows.length - 1) : 0;
  page = Math.floor(first / per);
  draw();
  if (rows.length) await show(first);
  d.body.dataset.ready = "1";
})().catch((e) => say("could not open this page: " + e));
})();
"""
