// Results drawn by their shape, never by task name (docs/serve.md, "How the page draws a result"):
//   segments [{start, end}]          -> spans on the waveform and a list of times
//   segments [{start, end, text}]    -> a transcript with times;  text -> the whole transcript
//   events [{time, start, end, <name>}] -> marks on the waveform and a list "time  name (score)"
//   score (+ threshold, decision)    -> a verification verdict
//   "data:audio/..." strings, *_url  -> <audio> players
//   other scalars                    -> a key / value table;  always: the raw JSON
"use strict";
const SD = (window.SD = window.SD || {});

SD.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

SD.fmt = (t) => (Math.round(t * 100) / 100).toFixed(2);

// min/max of each of `width` columns of a mono Float32Array
SD.peaks = function (samples, width) {
  const out = new Float32Array(width * 2);
  const step = Math.max(1, Math.floor(samples.length / width));
  for (let i = 0; i < width; i++) {
    let lo = 0, hi = 0;
    const end = Math.min(samples.length, (i + 1) * step);
    for (let j = i * step; j < end; j++) { const v = samples[j]; if (v < lo) lo = v; if (v > hi) hi = v; }
    out[2 * i] = lo; out[2 * i + 1] = hi;
  }
  return out;
};

// wave: {samples (Float32Array, mono), duration (s)} or null; segments: [{start, end}] (s);
// curve: {values (numbers in [0, 1]), hop (s)} drawn over the waveform (frame probabilities)
SD.drawWave = function (canvas, wave, segments, duration, curve) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(100, Math.floor(canvas.clientWidth * ratio)), h = Math.floor(canvas.clientHeight * ratio);
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  const total = duration || (wave && wave.duration) || 0;
  const css = getComputedStyle(document.documentElement);
  if (total > 0) {
    g.fillStyle = css.getPropertyValue("--speech").trim() || "rgba(47,111,222,.22)";
    for (const s of segments || []) g.fillRect((s.start / total) * w, 0, Math.max(1, ((s.end - s.start) / total) * w), h);
  }
  if (wave && wave.samples && wave.samples.length) {
    const p = SD.peaks(wave.samples, w);
    let amp = 1e-6;
    for (const v of p) amp = Math.max(amp, Math.abs(v));
    g.strokeStyle = "#3a4560";
    g.beginPath();
    for (let x = 0; x < w; x++) {
      g.moveTo(x + 0.5, h / 2 - (p[2 * x + 1] / amp) * h * 0.45);
      g.lineTo(x + 0.5, h / 2 - (p[2 * x] / amp) * h * 0.45 + 1);
    }
    g.stroke();
  } else {
    g.fillStyle = "#9aa3b8"; g.font = `${12 * ratio}px system-ui`;
    g.fillText(wave === null ? "no preview of this file in the browser" : "", 8 * ratio, 18 * ratio);
  }
  if (curve && total > 0) {
    g.strokeStyle = "#e0662b"; g.lineWidth = 1.5 * ratio;
    g.beginPath();
    curve.values.forEach((v, i) => {
      const x = ((i + 0.5) * curve.hop / total) * w, y = h - 6 * ratio - v * (h - 12 * ratio);
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.stroke(); g.lineWidth = 1;
  }
  if (total > 0 && wave !== undefined) {   // a time axis: a tick every second (or 10 s)
    const every = total > 60 ? 10 : 1;
    g.fillStyle = "#9aa3b8"; g.font = `${10 * ratio}px system-ui`;
    for (let t = every; t < total; t += every) {
      const x = (t / total) * w;
      g.fillRect(x, h - 5 * ratio, 1, 5 * ratio);
      if (total / every < 30) g.fillText(String(t), x + 2, h - 2 * ratio);
    }
  }
};

function isSegments(v) {
  return Array.isArray(v) && v.length > 0 && v.every((s) => s && typeof s.start === "number" && typeof s.end === "number");
}

function audioSources(result) {
  const found = [];
  const walk = (v, key, depth) => {
    if (depth > 3 || v === null) return;
    if (typeof v === "string") {
      if (v.startsWith("data:audio/") || (/(^|_)(audio_)?url$/.test(key) && /^(\/|https?:)/.test(v))) found.push([key, v]);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${key}[${i}]`, depth + 1));
    else if (typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k, depth + 1);
  };
  walk(result, "result", 0);
  return found;
}

// result: the JSON of POST /v1/{name}; inputs: [{name, canvas, wave}] of the request
SD.renderResult = function (box, result, inputs) {
  box.replaceChildren();
  const used = new Set(["task"]);
  const segs = isSegments(result.segments) ? result.segments : null;
  if (Array.isArray(result.segments)) used.add("segments");
  const events = Array.isArray(result.events) && result.events.every((e) => e && typeof e.time === "number") ? result.events : null;
  if (events) used.add("events");
  // an event spans its first to last window centre; a single-window event gets a 0.1 s mark
  const spans = (segs || []).concat((events || []).map((e) => ({ start: e.start ?? e.time, end: Math.max(e.end ?? e.time, (e.start ?? e.time) + 0.1) })));
  let curve = null;   // frame values in [0, 1] with their hop: drawn over the (single) waveform
  if (typeof result.frame_hop === "number" && inputs.length === 1) {
    for (const [k, v] of Object.entries(result)) {
      if (Array.isArray(v) && v.length && v.every((x) => typeof x === "number" && x >= 0 && x <= 1)) { curve = { values: v, hop: result.frame_hop }; used.add(k); break; }
    }
  }
  for (const inp of inputs) if (inp.canvas) SD.drawWave(inp.canvas, inp.wave, spans, result.duration || (inp.wave && inp.wave.duration), curve);

  if (typeof result.score === "number") {   // verification of two inputs
    used.add("score");
    const v = SD.el("div", { class: "verdict", id: "verdict" });
    v.append(SD.el("span", {}, "score ", SD.el("b", { id: "score", text: result.score.toFixed(3) })));
    if (typeof result.threshold === "number") { used.add("threshold"); v.append(SD.el("span", { class: "muted", text: `threshold ${result.threshold.toFixed(3)}` })); }
    if (result.decision !== undefined) {
      used.add("decision");
      const d = String(result.decision);
      const ok = /^(same|accept|true|yes|match)/i.test(d);
      v.append(SD.el("span", { class: `decision ${ok ? "accept" : "reject"}`, id: "decision", text: d }));
    }
    if (typeof result.probability === "number") {
      used.add("probability");
      const m = SD.el("div", { class: "meter", title: `probability ${result.probability}` }, SD.el("div", { style: `width:${(100 * result.probability).toFixed(1)}%` }));
      v.append(SD.el("span", { class: "muted", text: `p = ${result.probability.toFixed(3)}` }), m);
    }
    box.append(v);
  }
  if (typeof result.text === "string") {
    used.add("text");
    box.append(SD.el("p", { id: "transcript-text", text: result.text || "(nothing recognised)" }));
  }
  if (segs && segs.some((s) => typeof s.text === "string")) {
    const ol = SD.el("ol", { class: "transcript", id: "transcript" });
    for (const s of segs) ol.append(SD.el("li", { class: "seg-text" }, SD.el("span", { class: "t", text: `${SD.fmt(s.start)}–${SD.fmt(s.end)} s` }), " ", s.text || ""));
    box.append(ol);
  } else if (segs) {
    const ol = SD.el("ol", { class: "segments", id: "segments" });
    for (const s of segs) ol.append(SD.el("li", { class: "segment" }, SD.el("span", { class: "t", text: `${SD.fmt(s.start)} – ${SD.fmt(s.end)} s` }), " ", `(${SD.fmt(s.end - s.start)} s)`));
    box.append(SD.el("p", { class: "muted", text: `${segs.length} segment(s)` }), ol);
  } else if (Array.isArray(result.segments)) {
    box.append(SD.el("p", { class: "muted", id: "segments-none", text: "no segments" }));
  }
  if (events) {
    const ol = SD.el("ol", { class: "segments", id: "events" });
    for (const e of events) {
      const name = Object.entries(e).find(([k, v]) => typeof v === "string" && k !== "file");
      const score = typeof e.score === "number" ? ` (${e.score.toFixed(2)})` : "";
      ol.append(SD.el("li", { class: "event" }, SD.el("span", { class: "t", text: `${SD.fmt(e.time)} s` }), " ", `${name ? name[1] : "event"}${score}`));
    }
    box.append(SD.el("p", { class: "muted", text: `${events.length} event(s)` }), ol);
  }
  for (const [k, v] of Object.entries(result)) {   // ranked lists [{<name>: "...", score}] (nearest words), best first
    if (used.has(k) || !Array.isArray(v) || !v.length || !v.every((x) => x && typeof x === "object" && typeof x.score === "number")) continue;
    used.add(k);
    const ol = SD.el("ol", { class: "ranked", id: `ranked-${k}` });
    for (const x of v) {
      const name = Object.entries(x).find(([, y]) => typeof y === "string");
      const m = SD.el("div", { class: "meter", title: `score ${x.score}` }, SD.el("div", { style: `width:${Math.max(0, 100 * x.score).toFixed(1)}%` }));
      ol.append(SD.el("li", {}, SD.el("b", { text: name ? name[1] : "" }), " ", SD.el("span", { class: "muted", text: x.score.toFixed(3) }), m));
    }
    box.append(SD.el("p", { class: "muted", text: k }), ol);
  }
  for (const [key, src] of audioSources(result)) {
    used.add(key);
    box.append(SD.el("div", { class: "player" }, SD.el("span", { class: "muted", text: key }), SD.el("audio", { controls: "", src })));
  }
  const table = SD.el("table", { class: "kv" });
  for (const [k, v] of Object.entries(result)) {
    const words = Array.isArray(v) && v.length <= 50 && v.every((x) => typeof x === "string");   // e.g. query words
    if (used.has(k) || v === null || (Array.isArray(v) && !words)) continue;
    const show = (x) => (typeof x === "number" ? String(Math.round(x * 1e4) / 1e4) : String(x));
    let text;
    if (words) text = v.join(", ") || "(none)";
    else if (typeof v === "object") {   // a flat object of scalars: "k v, k v"
      const parts = Object.entries(v).filter(([, x]) => x === null || typeof x !== "object");
      if (!parts.length) continue;
      text = parts.map(([a, x]) => `${a} ${show(x)}`).join(", ");
    } else text = show(v);
    table.append(SD.el("tr", {}, SD.el("td", { text: k }), SD.el("td", { text })));
  }
  if (table.children.length) box.append(table);
};
