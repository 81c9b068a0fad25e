// The page: send a photo to /api/predict, draw the face box and the 40 attributes as bars.
// Only the latest request's answer is shown (older ones are aborted and ignored); the photo
// stays on error; "Try again" and the detection option re-send the same file.
"use strict";

const $ = (id) => document.getElementById(id);
let card = null; // GET /api/model: thresholds, AUCs and trust per attribute, data source
let current = null; // the file on show
let latest = 0; // number of the latest request; answers to older ones are dropped
let inFlight = null; // AbortController of the request in flight

function fmt(value) {
  return value === null || value === undefined ? "n/a" : value.toFixed(2);
}

function setStatus(text, loading) {
  $("status").textContent = text;
  $("status").classList.toggle("loading", loading);
  $("left").setAttribute("aria-busy", loading ? "true" : "false");
}

function showError(message) {
  $("error-text").textContent = message;
  $("error").hidden = false;
  $("retry").hidden = current === null;
}

function showNotice(message) {
  $("notice").textContent = message;
  $("notice").hidden = !message;
}

async function loadCard() {
  const response = await fetch("/api/model");
  card = await response.json();
  const auc = card.test.macro_auc === null ? "n/a" : card.test.macro_auc.toFixed(3);
  $("model-line").textContent =
    `study ${card.study}, trial ${card.trial}, ${card.image_size}x${card.image_size} input, ` +
    `test macro AUC ${auc}.`;
  $("data-line").textContent = card.data.description;
  $("trust-caption").textContent =
    `Trust levels and AUCs (validation / test) were measured on ${card.data.trust_measured_on}; ` +
    `attributes of low or unknown trust are in grey italics. Open a trust level for its reason.`;
}

function drawFace(result) {
  const box = $("face-box");
  const photo = $("photo");
  if (!result.face) {
    box.hidden = true;
    return;
  }
  const scale = photo.clientWidth / result.photo.width;
  box.style.left = `${result.face.x * scale}px`;
  box.style.top = `${result.face.y * scale}px`;
  box.style.width = `${result.face.width * scale}px`;
  box.style.height = `${result.face.height * scale}px`;
  box.hidden = false;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function barRow(name, probability, present) {
  const info = card.attributes.find((a) => a.name === name);
  const row = element("tr", (present ? "present" : "absent") + (info.weak ? " weak" : ""));
  row.dataset.name = name;

  const nameCell = element("td", "name", name.replaceAll("_", " "));
  nameCell.append(element("span", "decision", present ? "present" : "absent"));

  const track = element("div", "track");
  const fill = element("div", "fill");
  fill.style.width = `${(probability * 100).toFixed(1)}%`;
  const mark = element("div", "threshold");
  mark.style.left = `${(Math.min(Math.max(info.threshold, 0), 1) * 100).toFixed(1)}%`;
  track.append(fill, mark);
  const cell = element("div", "cell");
  cell.append(track, element("span", "value", probability.toFixed(2)));
  const barCell = element("td", "bar");
  barCell.append(cell);
  barCell.title = `threshold ${info.threshold.toFixed(2)}`;

  const trustCell = element("td", "trust");
  const details = element("details");
  const summary = element("summary", "level", info.trust || "n/a");
  const reason = info.trust_reason ? `${info.trust_reason}. ` : "";
  details.append(
    summary,
    element(
      "p",
      "",
      `${reason}AUC validation ${fmt(info.validation_auc)}, test ${fmt(info.test_auc)}; ` +
        `threshold ${info.threshold.toFixed(2)}.`,
    ),
  );
  trustCell.append(details);
  row.append(nameCell, barCell, trustCell);
  return row;
}

function showResult(result) {
  const names = Object.keys(result.probabilities);
  names.sort((a, b) => result.probabilities[b] - result.probabilities[a]);
  $("bars").replaceChildren(
    ...names.map((n) => barRow(n, result.probabilities[n], result.present[n])),
  );
  $("attributes").dataset.file = result.file;
  $("attributes").hidden = false;
  $("crop").src = result.crop;
  const t = result.timings_ms;
  $("timings").textContent =
    `decode ${t.decode.toFixed(0)} ms, face ${t.detect.toFixed(0)} ms, ` +
    `model ${t.model.toFixed(0)} ms (batch of ${result.batch_size}), total ${t.total.toFixed(0)} ms`;
  if ($("photo").complete) drawFace(result);
  else $("photo").onload = () => drawFace(result);
  const shown = names.filter((n) => result.present[n]);
  const top = shown.slice(0, 3).map((n) => `${n.replaceAll("_", " ")} ${fmt(result.probabilities[n])}`);
  setStatus(
    `${result.file}: ${shown.length} of 40 attributes present` +
      (top.length ? ` (most likely: ${top.join(", ")})` : "") + ".",
    false,
  );
  showNotice(result.notice ? `Note: ${result.notice}.` : "");
}

function explain(answer) {
  const first = answer.results ? answer.results[0] : null;
  if (first && first.status === 422 && !$("aligned").checked) {
    return (
      `No face was found in ${first.file}. If it is already a face crop aligned like ` +
      `CelebA's, tick "the photo is an aligned face crop": the photo is sent again.`
    );
  }
  return answer.error;
}

async function predict(file) {
  current = file;
  const number = ++latest;
  if (inFlight) inFlight.abort();
  inFlight = new AbortController();
  $("error").hidden = true;
  showNotice("");
  $("face-box").hidden = true;
  $("photo").src = URL.createObjectURL(file);
  $("photo").dataset.file = file.name;
  $("photo-frame").hidden = false;
  setStatus(`Looking at ${file.name}...`, true);
  const form = new FormData();
  form.append("file", file, file.name);
  const detect = $("aligned").checked ? "0" : "1";
  let answer;
  try {
    const response = await fetch(`/api/predict?crop=1&detect=${detect}`, {
      method: "POST",
      body: form,
      signal: inFlight.signal,
    });
    answer = await response.json();
  } catch (err) {
    if (number !== latest) return; // replaced by a newer request
    setStatus("", false);
    showError(`The server did not answer (${err.message}).`);
    return;
  }
  if (number !== latest) return;
  inFlight = null;
  if (answer.error) {
    $("attributes").hidden = true;
    setStatus(`${file.name}: no answer.`, false);
    showError(explain(answer));
    return;
  }
  showResult(answer.results[0]);
}

function toggleCrop() {
  const crop = $("show-crop").checked;
  $("crop").hidden = !crop;
  $("photo-wrap").hidden = crop;
}

async function example(number) {
  const response = await fetch(`/api/examples/${number}.png`);
  const blob = await response.blob();
  predict(new File([blob], `example-${Number(number) + 1}.png`, { type: "image/png" }));
}

window.addEventListener("DOMContentLoaded", () => {
  loadCard().catch((err) => showError(`Cannot read the model's card (${err.message}).`));
  $("file").addEventListener("change", () => {
    if ($("file").files.length) predict($("file").files[0]);
    $("file").value = ""; // choosing the same file again is a new change
  });
  $("retry").addEventListener("click", () => current && predict(current));
  $("aligned").addEventListener("change", () => current && predict(current));
  $("show-crop").addEventListener("change", toggleCrop);
  for (const button of document.querySelectorAll(".example")) {
    button.addEventListener("click", () => example(button.dataset.number));
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files.length) predict(event.dataTransfer.files[0]);
  });
});
