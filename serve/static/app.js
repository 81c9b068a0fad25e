// The page: send a photo to /api/predict, draw the face box and the 40 attributes as bars.
"use strict";

const $ = (id) => document.getElementById(id);
let card = null; // GET /api/model: thresholds and AUCs per attribute

function fmt(value) {
  return value === null || value === undefined ? "n/a" : value.toFixed(2);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function loadCard() {
  const response = await fetch("/api/model");
  card = await response.json();
  const auc = card.test.macro_auc === null ? "n/a" : card.test.macro_auc.toFixed(3);
  $("model-line").textContent =
    `study ${card.study}, trial ${card.trial}, ${card.image_size}x${card.image_size} input, ` +
    `test macro AUC ${auc}; attributes of low or unknown trust (or, for a card without ` +
    `trust levels, test AUC below ${card.low_auc}) are greyed.`;
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

function barRow(name, probability, present) {
  const info = card.attributes.find((a) => a.name === name);
  const row = document.createElement("tr");
  row.dataset.name = name;
  row.className = (present ? "present" : "absent") + (info.weak ? " weak" : "");
  const threshold = Math.min(Math.max(info.threshold, 0), 1);
  row.innerHTML =
    `<td class="name"></td><td class="bar"><div class="track">` +
    `<div class="fill" style="width:${(probability * 100).toFixed(1)}%"></div>` +
    `<div class="threshold" style="left:${(threshold * 100).toFixed(1)}%"` +
    ` title="threshold ${info.threshold.toFixed(2)}"></div>` +
    `<span class="value">${probability.toFixed(2)}</span></div></td>` +
    `<td class="decision">${present ? "present" : "absent"}</td>` +
    `<td class="trust"><span class="level"></span>` +
    ` ${fmt(info.validation_auc)} / ${fmt(info.test_auc)}</td>`;
  row.querySelector(".name").textContent = name.replaceAll("_", " ");
  row.querySelector(".level").textContent = info.trust || "";
  if (info.trust_reason) row.querySelector(".trust").title = info.trust_reason;
  return row;
}

function showResult(result) {
  const names = Object.keys(result.probabilities);
  names.sort((a, b) => result.probabilities[b] - result.probabilities[a]);
  const body = $("bars");
  body.replaceChildren(...names.map((n) => barRow(n, result.probabilities[n], result.present[n])));
  $("attributes").hidden = false;
  $("crop").src = result.crop;
  const t = result.timings_ms;
  $("timings").textContent =
    `decode ${t.decode.toFixed(0)} ms, face ${t.detect.toFixed(0)} ms, ` +
    `model ${t.model.toFixed(0)} ms (batch of ${result.batch_size}), total ${t.total.toFixed(0)} ms`;
  if ($("photo").complete) drawFace(result);
  else $("photo").onload = () => drawFace(result);
}

async function predict(file) {
  $("error").hidden = true;
  $("attributes").hidden = true;
  $("face-box").hidden = true;
  $("photo").src = URL.createObjectURL(file);
  $("photo-frame").hidden = false;
  const form = new FormData();
  form.append("file", file, file.name);
  const detect = $("aligned").checked ? "0" : "1";
  let answer;
  try {
    const response = await fetch(`/api/predict?crop=1&detect=${detect}`, {
      method: "POST",
      body: form,
    });
    answer = await response.json();
  } catch (err) {
    showError(`the server did not answer (${err.message})`);
    return;
  }
  if (answer.error) {
    $("photo-frame").hidden = true;
    showError(answer.error);
    return;
  }
  showResult(answer.results[0]);
}

function toggleCrop() {
  const crop = $("show-crop").checked;
  $("crop").hidden = !crop;
  $("photo-wrap").hidden = crop;
}

window.addEventListener("DOMContentLoaded", () => {
  loadCard().catch((err) => showError(`cannot read the model's card (${err.message})`));
  $("file").addEventListener("change", () => {
    if ($("file").files.length) predict($("file").files[0]);
  });
  $("show-crop").addEventListener("change", toggleCrop);
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
