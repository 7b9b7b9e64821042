// The gallery: cards rendered from the JSON data island, one page at a time, with filters.
// Every text goes in through textContent, never innerHTML: prompt and model text is data.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cards-data").textContent);
  var cards = data.cards;   // one entry per image
  var layout = data.layout; // [[section, [[label, scale], ...]], ...]; card.f holds the values in order
  var gallery = document.getElementById("gallery");
  var info = document.getElementById("page-info");
  var prev = document.getElementById("prev-page");
  var next = document.getElementById("next-page");
  var controls = {
    model: document.getElementById("filter-model"),
    emotion: document.getElementById("filter-emotion"),
    camera: document.getElementById("filter-camera"),
    verdict: document.getElementById("filter-verdict"),
    text: document.getElementById("filter-text"),
    size: document.getElementById("page-size")
  };
  var page = 0;
  var shown = cards;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fillSelect(select, values, label) {
    values.forEach(function (value) {
      var option = el("option", null, label ? label(value) : value);
      option.value = value;
      select.appendChild(option);
    });
  }

  function unique(key) {
    var seen = {}, out = [];
    cards.forEach(function (c) { if (!(c[key] in seen)) { seen[c[key]] = 1; out.push(c[key]); } });
    return out;
  }

  function verdictOptions() {
    var seen = {}, out = [];
    cards.forEach(function (c) {
      c.v.forEach(function (v) {
        var key = v[0] + " (" + v[1] + "): " + v[2];
        if (!(key in seen)) { seen[key] = 1; out.push(key); }
      });
    });
    return out.sort();
  }

  function matches(card, f) {
    if (f.model && card.m !== f.model) return false;
    if (f.emotion && card.e !== f.emotion) return false;
    if (f.camera && card.c !== f.camera) return false;
    if (f.verdict && !card.v.some(function (v) { return v[0] + " (" + v[1] + "): " + v[2] === f.verdict; })) return false;
    if (f.text) {
      var hay = (card.t + " " + (card.d || "") + " " + card.p).toLowerCase();
      if (hay.indexOf(f.text) < 0) return false;
    }
    return true;
  }

  var longPrompt = parseInt(gallery.dataset.longPrompt, 10) || 280;

  function renderCard(c) {
    // the seed post's order: title, description, image, prompt, measurements, verdicts
    var card = el("article", "card");
    card.dataset.id = c.id;
    card.dataset.model = c.m;
    var body = el("div", "body");
    body.appendChild(el("h3", "title", c.t));
    if (c.tn) body.appendChild(el("p", "title-note", c.tn));
    if (c.d) body.appendChild(el("p", "desc", c.d));
    card.appendChild(body);
    var link = el("a", "shot");
    link.href = c.img;  // the full-size image, in the run folder
    link.title = "full-size image (in the run folder)";
    if (c.th) {
      var img = el("img");
      img.decoding = "async";
      img.src = c.th;  // a down-scaled copy carried inside this page
      img.width = c.w; img.height = c.h;
      img.alt = c.t;
      link.appendChild(img);
    } else {
      link.appendChild(el("span", "no-image", "The image file could not be read."));
    }
    card.appendChild(link);
    body = el("div", "body");
    var tags = el("div", "tags");
    [c.m, "seed " + c.s, c.e, c.c, c.st, c.cat].forEach(function (t) { tags.appendChild(el("span", "tag", t)); });
    body.appendChild(tags);
    if (c.p.length > longPrompt) {
      var details = el("details", "prompt-box");
      details.appendChild(el("summary", null, "Prompt (" + c.p.length + " characters)"));
      details.appendChild(el("p", "prompt", c.p));
      body.appendChild(details);
    } else {
      body.appendChild(el("h4", null, "Prompt"));
      body.appendChild(el("p", "prompt", c.p));
    }
    var at = 0;
    layout.forEach(function (section) {
      body.appendChild(el("h4", null, section[0]));
      var dl = el("dl");
      section[1].forEach(function (line) {
        var shown = c.f[at++];
        dl.appendChild(el("dt", null, line[0]));
        var dd = el("dd", shown === null ? "missing" : null, shown === null ? "not measured" : shown);
        if (shown !== null && line[1]) dd.appendChild(el("span", "scale", "(" + line[1] + ")"));
        dl.appendChild(dd);
      });
      body.appendChild(dl);
    });
    body.appendChild(el("h4", null, "Verdicts"));
    var list = el("ul", "verdicts");
    if (!c.v.length) list.appendChild(el("li", "not-judged", "not judged"));
    c.v.forEach(function (v) {
      var li = el("li", v[2].replace(" ", "-"), v[0] + " (" + v[1] + "): " + v[2] + " ");
      if (v[3]) li.appendChild(el("span", "detail", v[3]));
      list.appendChild(li);
    });
    body.appendChild(list);
    card.appendChild(body);
    return card;
  }

  function render() {
    var size = parseInt(controls.size.value, 10) || shown.length || 1;
    var pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(page, pages - 1);
    var start = page * size, end = Math.min(shown.length, start + size);
    var frag = document.createDocumentFragment();
    for (var i = start; i < end; i++) frag.appendChild(renderCard(shown[i]));
    gallery.replaceChildren(frag);
    if (!shown.length) gallery.appendChild(el("p", "empty", "No image matches these filters."));
    info.textContent = shown.length
      ? "Showing " + (start + 1) + "-" + end + " of " + shown.length + " images" +
        (shown.length !== cards.length ? " (filtered from " + cards.length + ")" : "") +
        " · page " + (page + 1) + " of " + pages
      : "0 of " + cards.length + " images";
    gallery.dataset.total = String(shown.length);
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  function applyFilters() {
    var f = {
      model: controls.model.value, emotion: controls.emotion.value, camera: controls.camera.value,
      verdict: controls.verdict.value, text: controls.text.value.trim().toLowerCase()
    };
    shown = cards.filter(function (c) { return matches(c, f); });
    page = 0;
    render();
    saveFilters();
  }

  // The filters live in the address (#model=...&emotion=...), so a filtered view can be shared.
  var KEYS = ["model", "emotion", "camera", "verdict", "text"];

  function saveFilters() {
    var params = new URLSearchParams();
    KEYS.forEach(function (k) { if (controls[k].value) params.set(k, controls[k].value); });
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function loadFilters() {
    var params = new URLSearchParams(location.hash.slice(1));
    KEYS.forEach(function (k) {
      var value = params.get(k);
      if (value === null) return;
      var control = controls[k];
      if (control.tagName === "SELECT" && !Array.prototype.some.call(control.options, function (o) { return o.value === value; })) return;
      control.value = value;
    });
  }

  fillSelect(controls.model, unique("m"));
  fillSelect(controls.emotion, unique("e"));
  fillSelect(controls.camera, unique("c"));
  fillSelect(controls.verdict, verdictOptions());
  ["model", "emotion", "camera", "verdict", "size"].forEach(function (k) {
    controls[k].addEventListener("change", applyFilters);
  });
  controls.text.addEventListener("input", applyFilters);
  window.addEventListener("hashchange", function () { loadFilters(); applyFilters(); });
  prev.addEventListener("click", function () { page -= 1; render(); window.scrollTo(0, gallery.offsetTop - 80); });
  next.addEventListener("click", function () { page += 1; render(); window.scrollTo(0, gallery.offsetTop - 80); });
  loadFilters();
  applyFilters();
  document.documentElement.dataset.ready = "1";
})();
