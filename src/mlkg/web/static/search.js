// Autocomplete for every <input data-autocomplete="/api/search">: an ARIA combobox over the JSON
// search API. Without JavaScript the surrounding form still submits to /search.
(function () {
  "use strict";

  function setup(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    if (!list) { return; }
    var api = input.getAttribute("data-autocomplete");
    var timer = null, controller = null, items = [], active = -1, seq = 0;

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0 && items[index]) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function go(li) { window.location.assign(li.getAttribute("data-path")); }

    function render(results) {
      list.innerHTML = "";
      items = results.map(function (r, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-path", r.path);
        var name = document.createElement("span");
        name.className = "s-label";
        name.textContent = r.label;
        li.appendChild(name);
        if (r.matched && r.matched !== r.label) {
          var alt = document.createElement("span");
          alt.className = "s-alt";
          alt.textContent = "“" + r.matched + "”";
          li.appendChild(alt);
        }
        if (r.types && r.types.length) {
          var kind = document.createElement("span");
          kind.className = "s-type";
          kind.textContent = r.types[0];
          li.appendChild(kind);
        }
        li.addEventListener("mousedown", function (event) { event.preventDefault(); go(li); });
        list.appendChild(li);
        return li;
      });
      if (items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      } else {
        close();
      }
      active = -1;
    }

    function lookup() {
      var q = input.value.trim();
      if (!q) { close(); return; }
      if (controller) { controller.abort(); }
      controller = new AbortController();
      var mine = ++seq;
      fetch(api + "?limit=8&q=" + encodeURIComponent(q), { signal: controller.signal, headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) { if (mine === seq) { render(data.results || []); } })
        .catch(function (err) { if (err.name !== "AbortError") { close(); } });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookup, 120);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && items.length) {
        event.preventDefault();
        highlight((active + 1) % items.length);
      } else if (event.key === "ArrowUp" && items.length) {
        event.preventDefault();
        highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if (event.key === "Enter" && active >= 0 && items[active]) {
        event.preventDefault();
        go(items[active]);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-autocomplete]"), setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
