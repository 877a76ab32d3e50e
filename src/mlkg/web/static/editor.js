// The SPARQL editor: YASGUI (served from /static/vendor, set up from npm) over the plain form, which
// stays in use when JavaScript or the vendor assets are missing. No network access beyond /sparql:
// the autocompleters that ask outside services (LOV classes and properties) are turned off.
(function () {
  "use strict";

  function init() {
    var mount = document.getElementById("yasgui");
    var textarea = document.getElementById("query");
    if (!mount || !window.Yasgui || !textarea) { return; }
    var form = textarea.form;
    var endpoint = new URL(mount.getAttribute("data-endpoint") || "/sparql", window.location.href).href;

    window.Yasgui.Yasqe.defaults.autocompleters = ["prefixes", "variables"];
    mount.hidden = false;  // before YASGUI measures its editor
    if (form) { form.hidden = true; }
    var yasgui = new window.Yasgui(mount, {
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: false,
      endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
      persistenceId: null,
      populateFromUrl: false,
      autofocus: false,
      yasqe: { value: textarea.value, editorHeight: "320px", resizeable: true },
      yasr: { defaultPlugin: "table", pluginOrder: ["table", "response"], persistenceId: null }
    });
    window.mlkgYasgui = yasgui;

    function yasqe() { return yasgui.getTab().getYasqe(); }
    if (!yasqe().getValue().trim()) { yasqe().setValue(textarea.value); }

    var help = document.getElementById("editor-help");
    if (help) { help.hidden = false; }
    var examples = [];
    var data = document.getElementById("editor-examples");
    if (data) { examples = JSON.parse(data.textContent || "[]"); }
    document.querySelectorAll("button[data-example]").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = examples[Number(button.getAttribute("data-example"))];
        if (typeof text === "string") { yasqe().setValue(text); yasqe().focus(); }
      });
    });
    document.querySelectorAll("button[data-prefix]").forEach(function (button) {
      button.addEventListener("click", function () {
        var prefixes = {};
        prefixes[button.getAttribute("data-prefix")] = button.getAttribute("data-ns");
        yasqe().addPrefixes(prefixes);
      });
    });

    var downloads = document.getElementById("editor-downloads");
    function refreshDownloads() {
      if (!downloads) { return; }
      var query = yasqe().getValue();
      var type = yasqe().getQueryType() || "";
      var graph = /^(CONSTRUCT|DESCRIBE)$/i.test(type);
      var ask = /^ASK$/i.test(type);  // true or false: CSV and TSV carry SELECT tables only
      downloads.querySelectorAll("a[data-format]").forEach(function (link) {
        var format = link.getAttribute("data-format");
        var forGraph = format === "turtle" || format === "ntriples";
        var tableOnly = format === "csv" || format === "tsv";
        link.hidden = (graph !== forGraph && !(graph && format === "xml")) || (ask && tableOnly);
        link.href = endpoint + "?query=" + encodeURIComponent(query) + "&format=" + encodeURIComponent(format);
        link.setAttribute("download", "");
      });
      downloads.hidden = false;
    }
    yasgui.on("queryResponse", refreshDownloads);
    yasgui.on("tabChange", refreshDownloads);
    refreshDownloads();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
