"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const withToken = (path) => path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
let S = null;
let pos = 0;
let qi = 0;
let chain = Promise.resolve();
let pending = 0;

function answersOf(item) { return S.answers[item.id] || {}; }
function isDone(item) { const given = answersOf(item); return item.questions.every((d) => d in given); }
function firstOpenQuestion(item) {
  const given = answersOf(item);
  const i = item.questions.findIndex((d) => !(d in given));
  return i < 0 ? 0 : i;
}
function setPending(delta) { pending += delta; document.body.dataset.pending = String(pending); }
function question(dimension) { return S.questions.find((q) => q.dimension === dimension); }
function keyOf(index) { return index === 9 ? "0" : String(index + 1); }

function render() {
  const total = S.items.length;
  const done = S.items.filter(isDone).length;
  $("bar").max = total;
  $("bar").value = done;
  $("done").textContent = done + " of " + total + " images done \u00b7 labeller " + S.labeller;
  const list = $("questions");
  const answers = $("answers");
  list.replaceChildren();
  answers.replaceChildren();
  if (pos >= total) {
    $("where").textContent = "finished";
    $("photo").hidden = true;
    const li = document.createElement("li");
    li.textContent = "All " + total + " images are labelled. Thank you: you can close this tab.";
    list.append(li);
    return;
  }
  const item = S.items[pos];
  $("where").textContent = "Image " + (pos + 1) + " of " + total;
  $("photo").hidden = false;
  $("photo").src = withToken("/image/" + item.id);
  $("prompt").hidden = !item.prompt;
  $("prompt").textContent = item.prompt ? "Prompt (" + item.model + "): " + item.prompt : "";
  const given = answersOf(item);
  item.questions.forEach((dimension, index) => {
    const q = question(dimension);
    const li = document.createElement("li");
    li.dataset.dimension = dimension;
    if (index === qi) li.className = "current";
    const text = document.createElement("span");
    text.textContent = q.text;
    li.append(text);
    if (given[dimension]) {
      const mark = document.createElement("span");
      mark.className = "given";
      mark.textContent = given[dimension];
      li.append(mark);
    }
    if (q.about) {
      const about = document.createElement("span");
      about.className = "about";
      about.textContent = q.about + ": " + item[q.about];
      li.append(about);
    }
    list.append(li);
  });
  const current = question(item.questions[qi]);
  current.answers.forEach((word, index) => {
    const button = document.createElement("button");
    const kbd = document.createElement("kbd");
    kbd.textContent = keyOf(index);
    button.append(kbd, document.createTextNode(word));
    if (given[current.dimension] === word) button.className = "chosen";
    button.addEventListener("click", () => choose(index));
    answers.append(button);
  });
}

function save(item, dimension, word) {
  setPending(1);
  chain = chain.then(async () => {
    try {
      const response = await fetch(withToken("/api/answer"), {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({image_id: item.id, dimension: dimension, answer: word}),
      });
      if (!response.ok) throw new Error("the server answered " + response.status);
      $("status").className = "";
      $("status").textContent = "saved";
    } catch (error) {
      $("status").className = "error";
      $("status").textContent = "NOT saved (" + error.message + "): is 'viewfinder review' still running?";
    } finally {
      setPending(-1);
    }
  });
}

function choose(index) {
  if (pos >= S.items.length) return;
  const item = S.items[pos];
  const dimension = item.questions[qi];
  const word = question(dimension).answers[index];
  if (word === undefined) return;
  (S.answers[item.id] = S.answers[item.id] || {})[dimension] = word;
  save(item, dimension, word);
  if (qi + 1 < item.questions.length) {
    qi += 1;
  } else {
    pos += 1;
    qi = pos < S.items.length ? firstOpenQuestion(S.items[pos]) : 0;
  }
  render();
}

function move(step) {
  pos = Math.min(Math.max(pos + step, 0), S.items.length);
  qi = pos < S.items.length ? firstOpenQuestion(S.items[pos]) : 0;
  render();
}

document.addEventListener("keydown", (event) => {
  if (!S || event.ctrlKey || event.metaKey || event.altKey) return;
  if (/^[0-9]$/.test(event.key)) {
    choose(event.key === "0" ? 9 : Number(event.key) - 1);
  } else if (event.key === "Backspace") {
    if (qi > 0) { qi -= 1; } else if (pos > 0) { pos -= 1; qi = S.items[pos].questions.length - 1; }
    render();
  } else if (event.key === "ArrowRight") {
    move(1);
  } else if (event.key === "ArrowLeft") {
    move(-1);
  } else {
    return;
  }
  event.preventDefault();
});

fetch(withToken("/api/state")).then((r) => r.json()).then((state) => {
  S = state;
  const open = S.items.findIndex((item) => !isDone(item));
  pos = open < 0 ? S.items.length : open;
  qi = pos < S.items.length ? firstOpenQuestion(S.items[pos]) : 0;
  document.body.dataset.ready = "1";
  render();
});
