// The console's chart: raw readings as a line, consumption as bars, drawn as SVG from the
// page's JSON endpoint. Progressive enhancement: without this file the page shows the same
// data as a table, and the range form and links reload the page.
//
// Times on the axis are local (the series' time zone, Europe/Zurich) via Intl, so a DST day
// is drawn 23 or 25 hours wide; labels in the read-out come from the server. Drag across the
// plot to zoom in; arrow keys move between values; the range lives in the URL.
"use strict";
(() => {
  const root = document.querySelector("[data-chart]");
  if (!root || !root.dataset.src) return;
  const NS = "http://www.w3.org/2000/svg";
  const HOUR = 3600000;
  const DAY = 24 * HOUR;
  const box = root.querySelector("[data-chart-box]");
  const readout = root.querySelector("[data-readout]");
  const summary = root.querySelector("[data-summary]");
  const table = root.querySelector("[data-table]");
  const rowsLabel = root.querySelector("[data-rows]");
  const form = root.querySelector("form.chart-controls");
  const texts = JSON.parse(root.dataset.texts || "{}");
  const lang = document.documentElement.lang || "en";
  const base = root.dataset.base;
  let data = null;
  let active = -1;
  let svg = null;
  let geometry = null;

  const el = (name, attrs = {}, parent = null) => {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (parent) parent.append(node);
    return node;
  };
  const html = (name, text, attrs = {}) => {
    const node = document.createElement(name);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    return node;
  };
  const format = (text, values) => text.replace(/\{(\w+)\}/g, (m, key) => (key in values ? values[key] : m));

  // -- local time -------------------------------------------------------------------------------
  let partsFormat = null;
  const parts = (ms) => {
    partsFormat = partsFormat || new Intl.DateTimeFormat("en-GB", {
      timeZone: data.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    const out = {};
    for (const part of partsFormat.formatToParts(new Date(ms))) out[part.type] = part.value;
    return { y: +out.year, mo: +out.month, d: +out.day, h: +out.hour % 24, mi: +out.minute };
  };
  // The local midnight starting the day that holds `ms` (corrected once across a DST change).
  const dayStart = (ms) => {
    let t = ms - (((ms % 60000) + 60000) % 60000);
    const p = parts(t);
    t -= (p.h * 60 + p.mi) * 60000;
    const q = parts(t);
    if (q.h !== 0) t += (q.h > 12 ? 24 - q.h : -q.h) * HOUR;
    return t;
  };
  const nextDay = (midnight) => dayStart(midnight + 36 * HOUR);
  const nextMonth = (midnight) => {
    const t = dayStart(midnight + 32 * DAY);
    return dayStart(t - (parts(t).d - 1) * DAY + 12 * HOUR);
  };

  const formatter = (options) => new Intl.DateTimeFormat(lang, { timeZone: data.timeZone, ...options });

  function timeTicks(lo, hi, most) {
    const span = hi - lo;
    for (const minutes of [15, 30, 60, 120, 180, 360, 720]) {
      const step = minutes * 60000;
      if (span / step > most) continue;
      const ticks = [];
      if (step <= HOUR) {
        for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
      } else {
        for (let t = Math.ceil(lo / HOUR) * HOUR; t <= hi; t += HOUR) {
          const p = parts(t);
          if (p.mi === 0 && p.h % (minutes / 60) === 0) ticks.push(t);
        }
      }
      const time = formatter({ hour: "2-digit", minute: "2-digit" });
      const date = formatter({ day: "numeric", month: "short" });
      return ticks.map((t) => ({ t, label: parts(t).h === 0 ? date.format(t) : time.format(t) }));
    }
    for (const days of [1, 2, 7, 14]) {
      if (span / (days * DAY) > most) continue;
      const ticks = [];
      let t = dayStart(lo);
      if (t < lo) t = nextDay(t);
      for (let i = 0; t <= hi; i += 1, t = nextDay(t)) if (i % days === 0) ticks.push(t);
      const date = formatter({ day: "numeric", month: "short" });
      return ticks.map((x) => ({ t: x, label: date.format(x) }));
    }
    for (const months of [1, 3, 6, 12, 24, 60]) {
      if (span / (months * 30.4 * DAY) > most) continue;
      const ticks = [];
      let t = dayStart(lo);
      if (parts(t).d !== 1 || t < lo) t = nextMonth(t);
      for (; t <= hi; t = nextMonth(t)) if ((parts(t).mo - 1) % months === 0) ticks.push(t);
      const month = formatter(months >= 12 ? { year: "numeric" } : { month: "short", year: "2-digit" });
      return ticks.map((x) => ({ t: x, label: month.format(x) }));
    }
    return [];
  }

  function valueTicks(lo, hi, most) {
    if (hi === lo) hi = lo + 1;
    const raw = (hi - lo) / Math.max(1, most);
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
    const ticks = [];
    const last = Math.ceil(hi / step - 1e-9) * step;
    for (let v = Math.floor(lo / step + 1e-9) * step; v <= last + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    return ticks;
  }

  // -- drawing ----------------------------------------------------------------------------------
  function draw() {
    box.textContent = "";
    active = -1;
    const width = Math.max(300, Math.round(box.clientWidth || 600));
    const height = width < 500 ? 220 : 300;
    const m = { top: 14, right: 14, bottom: 30, left: 64 };
    const w = width - m.left - m.right;
    const h = height - m.top - m.bottom;
    const what = data.view === "readings" ? texts.readings : texts.consumption;
    svg = el("svg", {
      viewBox: `0 0 ${width} ${height}`, width, height, tabindex: 0, role: "application",
      "aria-label": format(texts.chart || "", { what }), "aria-describedby": "chart-hint",
      "data-view": data.view, "data-interval": data.interval, "data-points": data.points.length,
    });
    box.append(svg);
    let hint = document.getElementById("chart-hint");
    if (!hint) {
      hint = html("p", texts.hint, { id: "chart-hint", class: "hint" });
      box.after(hint);
    }
    const lo = Date.parse(data.from);
    const hi = Date.parse(data.to);
    const points = data.points;
    const numbers = points.map((p) => (p.value === null ? null : Number(p.value)));
    const known = numbers.filter((v) => v !== null);
    let vmin = known.length ? Math.min(...known) : 0;
    let vmax = known.length ? Math.max(...known) : 1;
    if (data.view === "consumption") { vmin = Math.min(0, vmin); vmax = Math.max(0, vmax); }
    if (vmin === vmax) { vmax += 1; if (data.view === "readings") vmin -= 1; }
    const yTicks = valueTicks(vmin, vmax, Math.max(3, Math.floor(h / 45)));
    vmin = Math.min(vmin, yTicks[0]);
    vmax = Math.max(vmax, yTicks[yTicks.length - 1]);
    const x = (t) => m.left + ((t - lo) / (hi - lo)) * w;
    const y = (v) => m.top + h - ((v - vmin) / (vmax - vmin)) * h;
    geometry = { x, y, lo, hi, m, w, h, width, height };

    el("rect", { class: "plot-bg", x: m.left, y: m.top, width: w, height: h }, svg);
    const grid = el("g", { class: "grid" }, svg);
    const axis = el("g", { class: "axis" }, svg);
    const number = new Intl.NumberFormat(lang, { maximumFractionDigits: 3 });
    for (const v of yTicks) {
      el("line", { x1: m.left, x2: m.left + w, y1: y(v), y2: y(v) }, grid);
      el("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end" }, axis).textContent = number.format(v);
    }
    el("text", { x: 4, y: m.top - 2 }, axis).textContent = data.unit;
    for (const tick of timeTicks(lo, hi, Math.max(2, Math.floor(w / 80)))) {
      el("line", { x1: x(tick.t), x2: x(tick.t), y1: m.top + h, y2: m.top + h + 4 }, axis);
      el("text", { x: x(tick.t), y: m.top + h + 17, "text-anchor": "middle" }, axis).textContent = tick.label;
    }
    el("line", { x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h }, axis);

    const series = el("g", { class: "series" }, svg);
    if (!known.length) {
      el("text", { class: "empty", x: m.left + w / 2, y: m.top + h / 2, "text-anchor": "middle" }, svg).textContent = texts.noData;
    } else if (data.view === "consumption" && points.length <= 1500) {
      points.forEach((p, i) => {
        if (numbers[i] === null) return;
        const x0 = x(p.t);
        const x1 = x(p.e);
        const gap = x1 - x0 > 4 ? 1 : 0;
        const top = y(Math.max(0, numbers[i]));
        const bottom = y(Math.min(0, numbers[i]));
        const classes = ["bar", p.estimated ? "estimated" : "", p.partial ? "partial" : ""].filter(Boolean).join(" ");
        el("rect", {
          class: classes, x: x0 + gap / 2, y: top, width: Math.max(0.5, x1 - x0 - gap), height: Math.max(0.5, bottom - top),
          "data-index": i, "data-t": p.t, "data-value": p.value, "data-label": p.label,
        }, series);
      });
    } else if (data.view === "consumption") {
      // Too many bars to draw one by one: a step area; the values stay in the table.
      let d = "";
      points.forEach((p, i) => {
        if (numbers[i] === null) return;
        d += `M${x(p.t)},${y(0)}V${y(numbers[i])}H${x(p.e)}V${y(0)}Z`;
      });
      el("path", { class: "area", d }, series);
    } else {
      let d = "";
      let pen = "M";
      points.forEach((p, i) => {
        d += `${pen}${x(p.t).toFixed(1)},${y(numbers[i]).toFixed(1)}`;
        pen = "L";
      });
      el("path", { class: "line", d }, series);
      if (points.length <= 400) {
        points.forEach((p, i) => el("circle", {
          class: "dot", cx: x(p.t), cy: y(numbers[i]), r: 2.5,
          "data-index": i, "data-t": p.t, "data-value": p.value, "data-label": p.label,
        }, series));
      }
    }
    el("line", { class: "guide", x1: 0, x2: 0, y1: m.top, y2: m.top + h, visibility: "hidden" }, svg);
    el("rect", { class: "selection", x: 0, y: m.top, width: 0, height: h, visibility: "hidden" }, svg);
    const tip = el("g", { class: "tip", visibility: "hidden" }, svg);
    el("rect", { rx: 4, ry: 4, height: 22 }, tip);
    el("text", { x: 8, y: 15 }, tip);
    attach();
  }

  // -- interaction ------------------------------------------------------------------------------
  const pointAt = (ms) => {
    const points = data.points;
    if (!points.length) return -1;
    let low = 0;
    let high = points.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (points[mid].t <= ms) low = mid; else high = mid - 1;
    }
    if (data.view === "readings" && low + 1 < points.length && ms - points[low].t > points[low + 1].t - ms) low += 1;
    return low;
  };

  function describe(i) {
    const p = data.points[i];
    const value = p.value === null ? "–" : `${p.value} ${data.unit}`;
    const flags = [p.estimated ? texts.estimated : "", p.partial ? texts.partial : ""].filter(Boolean).join(", ");
    return `${p.label}: ${value}${flags ? ` (${flags})` : ""}`;
  }

  function highlight(i) {
    if (!svg || i < 0 || i >= data.points.length) return;
    const previous = svg.querySelectorAll(".active");
    for (const node of previous) node.classList.remove("active");
    active = i;
    const p = data.points[i];
    const { x, y, m, w } = geometry;
    const cx = p.e ? (x(p.t) + x(p.e)) / 2 : x(p.t);
    const guide = svg.querySelector(".guide");
    guide.setAttribute("x1", cx);
    guide.setAttribute("x2", cx);
    guide.setAttribute("visibility", "visible");
    const mark = svg.querySelector(`[data-index="${i}"]`);
    if (mark) mark.classList.add("active");
    const text = describe(i);
    const tip = svg.querySelector(".tip");
    const label = tip.querySelector("text");
    label.textContent = text;
    const width = Math.min(w, label.getComputedTextLength() + 16);
    tip.querySelector("rect").setAttribute("width", width);
    const left = Math.min(Math.max(m.left, cx - width / 2), m.left + w - width);
    const top = p.value === null ? m.top : Math.max(m.top, Math.min(y(Number(p.value)) - 30, m.top + geometry.h - 24));
    tip.setAttribute("transform", `translate(${left},${top})`);
    tip.setAttribute("visibility", "visible");
    readout.textContent = text;
  }

  function attach() {
    const toMs = (event) => {
      const rect = svg.getBoundingClientRect();
      const px = ((event.clientX - rect.left) / rect.width) * geometry.width;
      const clamped = Math.min(Math.max(px, geometry.m.left), geometry.m.left + geometry.w);
      return { px: clamped, ms: geometry.lo + ((clamped - geometry.m.left) / geometry.w) * (geometry.hi - geometry.lo) };
    };
    let drag = null;
    const selection = svg.querySelector(".selection");
    svg.addEventListener("pointermove", (event) => {
      const at = toMs(event);
      if (drag) {
        selection.setAttribute("x", Math.min(drag.px, at.px));
        selection.setAttribute("width", Math.abs(at.px - drag.px));
        selection.setAttribute("visibility", "visible");
      }
      highlight(pointAt(at.ms));
    });
    svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = toMs(event);
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener("pointerup", (event) => {
      if (!drag) return;
      const end = toMs(event);
      const start = drag;
      drag = null;
      selection.setAttribute("visibility", "hidden");
      if (Math.abs(end.px - start.px) < 8) return;
      const from = new Date(Math.min(start.ms, end.ms)).toISOString();
      const to = new Date(Math.max(start.ms, end.ms)).toISOString();
      load(new URLSearchParams({ view: data.view, interval: data.interval, from, to }), true);
    });
    svg.addEventListener("pointercancel", () => { drag = null; selection.setAttribute("visibility", "hidden"); });
    svg.addEventListener("keydown", (event) => {
      const count = data.points.length;
      if (!count) return;
      const moves = { ArrowRight: 1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };
      let next = null;
      if (event.key in moves) next = Math.min(count - 1, Math.max(0, (active < 0 ? 0 : active) + moves[event.key]));
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = count - 1;
      if (next === null) return;
      event.preventDefault();
      highlight(next);
    });
    svg.addEventListener("focus", () => { if (active < 0 && data.points.length) highlight(data.points.length - 1); });
  }

  // -- the table, links and form follow the data ---------------------------------------------------
  function fillTable() {
    if (!table) return;
    const head = html("thead");
    const titles = data.view === "readings"
      ? [texts.time, texts.timeUtc, `${texts.value} (${data.unit})`]
      : [texts.start, texts.utc, `${texts.value} (${data.unit})`, texts.flags];
    const row = html("tr");
    titles.forEach((title, i) => row.append(html("th", title, i === 2 ? { scope: "col", class: "num" } : { scope: "col" })));
    head.append(row);
    const body = html("tbody");
    for (const p of data.points) {
      const tr = html("tr", null, { "data-t": p.t, "data-value": p.value === null ? "" : p.value });
      tr.append(html("td", p.label), html("td", p.utc), html("td", p.value === null ? "–" : p.value, { class: "num" }));
      if (data.view !== "readings") {
        tr.append(html("td", [p.estimated ? texts.estimated : "", p.partial ? texts.partial : ""].filter(Boolean).join(" ")));
      }
      body.append(tr);
    }
    table.replaceChildren(head, body);
    table.dataset.unit = data.unit;
    if (rowsLabel) rowsLabel.textContent = format(texts.rows, { count: data.points.length });
  }

  function fillLinks() {
    for (const link of root.querySelectorAll("[data-nav]")) link.href = `${data.links[link.dataset.nav]}#chart`;
    for (const link of root.querySelectorAll("[data-link]")) link.href = data.links[link.dataset.link];
    if (form) {
      if (form.elements.view) form.elements.view.value = data.view;
      form.elements.interval.value = data.interval;
      form.elements.from.value = data.fromDate;
      form.elements.until.value = data.untilDate;
    }
    if (summary) {
      summary.textContent = "";
      if (data.total !== null) {
        summary.append(`${texts.total}: `, html("strong", data.total, { "data-total": "" }), ` ${data.unit}`);
      }
      if (data.truncated) summary.append(" ", html("span", texts.truncated, { class: "error" }));
    }
    const error = root.querySelector("[data-chart-error]");
    if (error) error.remove();
    root.dataset.view = data.view;
    root.dataset.interval = data.interval;
    const intervalField = root.querySelector("[data-interval-field]");
    if (intervalField) intervalField.hidden = data.view === "readings";
  }

  let generation = 0;
  async function load(params, push) {
    const mine = ++generation;
    root.dataset.state = "loading";
    let answer;
    try {
      const response = await fetch(`${base}/series.json?${params}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      answer = await response.json();
      if (!response.ok) throw new Error(answer.message || texts.failed);
    } catch (problem) {
      if (mine !== generation) return;
      root.dataset.state = "error";
      readout.textContent = problem instanceof Error && problem.message ? problem.message : texts.failed;
      return;
    }
    if (mine !== generation) return;
    data = answer;
    partsFormat = null;
    draw();
    fillTable();
    fillLinks();
    readout.textContent = "";
    const url = `${data.links.page}#chart`;
    if (push) history.pushState({ chart: true }, "", url);
    else history.replaceState({ chart: true }, "", url);
    root.dataset.state = "ready";
  }

  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
      load(params, true);
    });
    for (const name of ["view", "interval"]) {
      if (form.elements[name]) form.elements[name].addEventListener("change", () => form.requestSubmit());
    }
  }
  root.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-nav]");
    if (!link) return;
    event.preventDefault();
    load(new URL(link.href).searchParams, true);
  });
  window.addEventListener("popstate", () => load(new URLSearchParams(location.search), false));
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (data) { const keep = active; draw(); if (keep >= 0) highlight(keep); } }, 150);
  });
  load(new URL(root.dataset.src, location.href).searchParams, false);
})();
