// The ocrops page: staged upload (a downscaled JPEG preview first, then the full image) to POST /ocr,
// the text with a copy button, and each line's box with its confidence drawn over the image. A file the browser
// cannot show (a PDF, a TIFF, HEIC) is sent whole with pictures=true: the service sends each page's picture back,
// and a PDF's or TIFF's pages are shown one at a time, picked from their thumbnails.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// what each service error code means to a person (docs/architecture.md, "Errors")
const MESSAGES = {
  4001: "The service could not read this file as an image or a PDF.",
  4002: "The service did not understand the request.",
  4010: "This service needs an API key: enter it above, then drop the image again.",
  4029: "Too many requests: this client is rate-limited.",
  4030: "This page's origin may not call the service (serve.cors_origins).",
  4040: "The service has no such endpoint (is this an ocrops service?).",
  4050: "The service does not take this request method here.",
  4080: "The upload was too slow or stalled; check the connection and drop the image again.",
  4310: "The request's headers are too large.",
  5001: "The image is too large for this service.",
  5002: "The model is not ready (starting or restarting).",
  5003: "The service ran out of memory on this image; try a smaller one.",
  5004: "Recognition took too long and was stopped.",
  5030: "The service is busy; it will take the image again shortly.",
};
const RETRYABLE = new Set([4029, 5002, 5030]);
const MAX_RETRIES = 3;

let config = { max_image_bytes: 10e6, max_side: 5000, max_pixels: 25e6, preview_side: 1024,
               line_max_height: 160, line_min_aspect: 2, api_key_required: false };
let current = null; // {generation, controller, objectUrl}
let generation = 0;

class ServiceError extends Error {
  constructor(code, message, requestId = null, retryAfter = 0) {
    super(message);
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

function describe(err) {
  const known = MESSAGES[err.code] || "The request failed.";
  const detail = err.message && err.message !== known ? `: ${err.message}` : "";
  const code = err.code ? ` [${err.code}]` : "";
  return `${known.replace(/[.:]$/, "")}${detail}${code}.`;
}

function setStatus(text, kind = "info") {
  const status = $("status");
  status.hidden = !text;
  status.textContent = text || "";
  status.className = kind;
  status.dataset.kind = kind;
}

function megabytes(n) {
  return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

function apiKey() {
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem("ocrops-api-key", key);
  return key;
}

// POST one image to /ocr; 429 and 503 are retried after the Retry-After the service sends
async function recognize(blob, filename, mode, signal, pictures = false) {
  for (let attempt = 0; ; attempt++) {
    const form = new FormData();
    form.append("file", blob, filename);
    form.append("mode", mode);
    if (pictures) form.append("pictures", "true");
    const headers = {};
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    let response;
    try {
      response = await fetch("ocr", { method: "POST", body: form, headers, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ServiceError(0, "The service cannot be reached.");
    }
    let body = {};
    try { body = await response.json(); } catch { /* not JSON: a proxy's error page */ }
    if (response.ok) return body;
    const err = new ServiceError(body.code || response.status, body.message || response.statusText,
                                 body.request_id, Number(response.headers.get("Retry-After")) || 0);
    if (err.code === 4010) $("key-row").hidden = false;
    if (!RETRYABLE.has(err.code) || attempt >= MAX_RETRIES) throw err;
    const wait = Math.max(err.retryAfter, 1);
    setStatus(`${describe(err)} Retrying in ${wait} s…`, "warn");
    await sleep(wait * 1000, signal);
  }
}

function isLine(width, height) {
  return height <= config.line_max_height && width >= config.line_min_aspect * height;
}

// the image downscaled to preview_side on its longer side, as JPEG
async function preview(image) {
  const scale = config.preview_side / Math.max(image.naturalWidth, image.naturalHeight);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
  canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; // transparent PNGs: white paper, not black
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  return { blob, width: canvas.width };
}

// a calibrated model says which lines need review; an older one only has its raw confidence
function grade(line) {
  if (typeof line.needs_review === "boolean") return line.needs_review ? (line.confidence >= 0.6 ? "fair" : "poor") : "good";
  return line.confidence >= 0.9 ? "good" : line.confidence >= 0.6 ? "fair" : "poor";
}

// draw one answer; ``scale`` maps the answer's pixels onto the original image's
function render(result, scale, stage, shown) {
  $("result").hidden = false; // first: the label size below depends on the image's size on screen
  const overlay = $("overlay");
  const width = shown ? $("image").naturalWidth : Math.round(result.width * scale);
  const height = shown ? $("image").naturalHeight : Math.round(result.height * scale);
  overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  overlay.replaceChildren();
  const list = $("lines");
  list.replaceChildren();
  // labels about 12 CSS pixels high whatever the image's size on screen
  const fontSize = 12 * width / Math.max($("image").clientWidth, 1);
  result.lines.forEach((line, i) => {
    const points = line.box.map(([x, y]) => [x * scale, y * scale]);
    const polygon = document.createElementNS(SVG, "polygon");
    polygon.setAttribute("points", points.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "));
    polygon.setAttribute("class", `box ${grade(line)}`);
    polygon.dataset.index = i;
    polygon.dataset.confidence = line.confidence;
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", Math.min(...points.map((p) => p[0])).toFixed(1));
    label.setAttribute("y", Math.max(Math.min(...points.map((p) => p[1])) - fontSize * 0.25, fontSize).toFixed(1));
    label.setAttribute("font-size", fontSize.toFixed(1));
    label.setAttribute("class", `conf ${grade(line)}`);
    label.textContent = line.confidence.toFixed(2);
    overlay.append(polygon, label);

    const item = document.createElement("li");
    item.dataset.index = i;
    const badge = document.createElement("span");
    badge.className = `c ${grade(line)}`;
    badge.textContent = line.confidence.toFixed(2);
    item.append(badge, document.createTextNode(line.text));
    item.addEventListener("mouseenter", () => polygon.classList.add("hot"));
    item.addEventListener("mouseleave", () => polygon.classList.remove("hot"));
    list.append(item);
  });
  $("text").value = result.text;
  const model = result.model || {};
  const what = stage === "preview" ? `preview (${result.width}×${result.height})` : "full resolution";
  $("meta").textContent = `${model.name} v${model.version}${model.alias ? " @" + model.alias : ""} · ` +
    (result.pageLabel ? `${result.pageLabel} · ` : "") +
    `${result.lines.length} line${result.lines.length === 1 ? "" : "s"} (${result.mode}) · ` +
    `${Math.round(result.timings?.total_ms ?? 0)} ms · ${what} · request ${result.request_id}`;
  $("model").textContent = `${model.name} v${model.version}${model.alias ? " @" + model.alias : ""}`;
  $("result").dataset.stage = stage;
}

// show the service's picture of a page (upright, downscaled) with that page's lines on it
async function showPicture(job, entry, answer, label) {
  const image = $("image");
  image.src = entry.picture;
  try { await image.decode(); } catch { return false; }
  if (job !== current) return false;
  image.hidden = false;
  render({ ...entry, mode: entry.mode || answer.mode, model: answer.model, timings: answer.timings,
           request_id: answer.request_id, pageLabel: label }, image.naturalWidth / entry.width, "full", true);
  return true;
}

// a PDF's or TIFF's answer: a thumbnail per page; the first page shown, another on a click
async function showDocument(job, answer) {
  const strip = $("pages");
  strip.replaceChildren();
  const pages = answer.pages;
  const select = async (k) => {
    for (const button of strip.children) button.setAttribute("aria-current", String(button.dataset.page === String(k)));
    await showPicture(job, pages[k], answer, `page ${pages[k].page} of ${pages.length}`);
    $("result").dataset.page = pages[k].page;
  };
  pages.forEach((entry, k) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.page = String(k);
    button.title = `page ${entry.page}: ${entry.lines.length} lines`;
    const thumb = document.createElement("img");
    thumb.src = entry.picture;
    thumb.alt = `page ${entry.page}`;
    const caption = document.createElement("span");
    caption.textContent = String(entry.page);
    button.append(thumb, caption);
    button.addEventListener("click", () => select(k));
    strip.append(button);
  });
  strip.hidden = false;
  await select(0);
}

async function handle(file) {
  if (!file) return;
  current?.controller.abort(new DOMException("replaced by a newer image", "AbortError"));
  if (current?.objectUrl) URL.revokeObjectURL(current.objectUrl);
  const job = { generation: ++generation, controller: new AbortController(), objectUrl: URL.createObjectURL(file) };
  current = job;
  const { signal } = job.controller;
  const image = $("image");
  $("result").hidden = true;
  $("pages").hidden = true;
  $("pages").replaceChildren();
  delete $("result").dataset.stage;
  delete $("result").dataset.page;
  image.src = job.objectUrl;
  let shown = true;
  try { await image.decode(); } catch { shown = false; } // e.g. TIFF: the service reads it, the browser does not
  if (job !== current) return;
  image.hidden = !shown;
  const tooLarge = file.size > config.max_image_bytes;
  try {
    let previewed = false;
    if (shown && !isLine(image.naturalWidth, image.naturalHeight)
        && (tooLarge || Math.max(image.naturalWidth, image.naturalHeight) > config.preview_side)) {
      setStatus("Reading a preview…");
      const small = await preview(image);
      const result = await recognize(small.blob, "preview.jpg", "page", signal);
      if (job !== current) return;
      render(result, image.naturalWidth / small.width, "preview", shown);
      previewed = true;
    }
    if (tooLarge) {
      throw new ServiceError(5001, `${megabytes(file.size)}; this service takes up to ` +
                                   `${megabytes(config.max_image_bytes)}`);
    }
    setStatus(previewed ? "Preview shown; reading the full-resolution image…" : "Reading…");
    const result = await recognize(file, file.name || "image", "auto", signal, !shown);
    if (job !== current) return;
    if (result.pages) {
      await showDocument(job, result);
      setStatus("");
    } else if (!shown && result.picture) {
      setStatus((await showPicture(job, result, result, "")) ? "" : "The service's picture of this file could not be shown.");
    } else {
      render(result, 1, "full", shown);
      setStatus(shown ? "" : "Your browser cannot display this format, so line boxes are not drawn.");
    }
  } catch (err) {
    if (signal.aborted || job !== current) return;
    const kept = $("result").dataset.stage === "preview" ? " Showing the preview's result." : "";
    setStatus(describe(err) + kept, "error");
    $("status").dataset.code = err.code;
  }
}

function setUp() {
  const drop = $("drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => { e.preventDefault(); handle(e.dataTransfer?.files?.[0]); });
  // a file dropped next to the zone is still meant for it, not for the browser to open
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => { e.preventDefault(); handle(e.dataTransfer?.files?.[0]); });
  $("file").addEventListener("change", (e) => { handle(e.target.files[0]); e.target.value = ""; });
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
    if (item) handle(item.getAsFile());
  });
  $("show-boxes").addEventListener("change", (e) => { $("overlay").style.display = e.target.checked ? "" : "none"; });
  $("copy").addEventListener("click", async () => {
    const text = $("text").value;
    try {
      await navigator.clipboard.writeText(text);
    } catch { // no clipboard API outside secure contexts (plain http on a LAN address)
      $("text").select();
      document.execCommand("copy");
    }
    $("copied").hidden = false;
    setTimeout(() => { $("copied").hidden = true; }, 1500);
  });
  $("api-key").value = sessionStorage.getItem("ocrops-api-key") || "";
}

async function loadConfig() {
  try {
    const response = await fetch("ui/config.json");
    if (response.ok) config = { ...config, ...(await response.json()) };
  } catch { /* defaults */ }
  $("limit").textContent = megabytes(config.max_image_bytes);
  if (config.formats) $("formats").textContent = config.formats;
  $("key-row").hidden = !config.api_key_required;
}

setUp();
loadConfig();
