// The grid map: polygons by level from /api/v1/grid/map, a panel for the clicked cell, and an
// optional base map (the tile URL comes from the server's configuration; none by default, so the
// map works with no internet).
(function () {
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var scope = el.dataset.scope;
  var tiles = el.dataset.tiles;
  var panel = document.getElementById("cell-panel");
  var kinds = JSON.parse(el.dataset.kinds || "{}");
  var levels = JSON.parse(el.dataset.levels || "{}");
  var map = L.map(el, { zoomControl: true, attributionControl: !!tiles, preferCanvas: true, zoomSnap: 0.25 });
  if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  var colors = { district: "#7a0a1c", street: "#c8102e", community: "#1f6feb", grid: "#1e7e34", micro_grid: "#b54708" };
  var fills = { compound: "#fde2e4", geographic: "#e3f2fd", unit: "#fff4cc", work_unit: "#e8f5e9", dedicated: "#ede7f6" };
  var layers = {};
  var selected = null;
  el.weige = { map: map, layers: layers }; // for the browser tests

  function text(s) {
    var d = document.createElement("div");
    d.textContent = s == null ? "" : String(s);
    return d.innerHTML;
  }

  function show(props, layer) {
    if (selected) selected.setStyle({ weight: selected.options.baseWeight });
    selected = layer;
    layer.setStyle({ weight: 4 });
    panel.innerHTML =
      '<h2 data-testid="cell-name">' + text(props.name) + "</h2>" +
      "<p><code>" + text(props.code) + "</code> · " + text(levels[props.level] || props.level) +
      (props.kind ? " · " + text(kinds[props.kind] || props.kind) : "") + "</p>" +
      '<h3>' + text(panel.dataset.staffTitle) + '</h3><ul id="cell-staff"><li class="muted">…</li></ul>' +
      '<div id="cell-households"></div>';
    fetch("/api/v1/registry/households?scope=" + encodeURIComponent(props.code), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (list) {
        var box = document.getElementById("cell-households");
        if (!box || !list) return;
        var count = list.length >= 100 ? "100+" : String(list.length);
        box.innerHTML = "<h3>" + text(panel.dataset.householdsTitle) + ' <span data-testid="household-count">' + count + "</span></h3><ul>" +
          list.slice(0, 8).map(function (h) {
            return '<li><a href="/registry/households/' + h.id + '">' + text(h.address) + "</a> (" + h.members + ")</li>";
          }).join("") + '</ul><p><a href="/registry?scope=' + encodeURIComponent(props.code) + '">' + text(panel.dataset.allHouseholds) + "</a></p>";
      });
    fetch("/api/v1/grid/nodes/" + encodeURIComponent(props.code) + "/staff", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (staff) {
        var ul = document.getElementById("cell-staff");
        if (!ul) return;
        ul.innerHTML = staff.length
          ? staff.map(function (s) { return "<li>" + text(s.role_label) + "：" + text(s.display_name) + "</li>"; }).join("")
          : '<li class="muted">' + text(panel.dataset.noStaff) + "</li>";
      });
  }

  function load(level) {
    return fetch("/api/v1/grid/map?scope=" + encodeURIComponent(scope) + "&level=" + level, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (fc) {
        var weight = level === "micro_grid" ? 1 : level === "grid" ? 2 : 3;
        var layer = L.geoJSON(fc, {
          style: function (f) {
            var filled = level === "micro_grid";
            return { color: colors[level], weight: weight, baseWeight: weight, fillOpacity: filled ? 0.55 : 0.05,
                     fillColor: filled ? fills[f.properties.kind] || "#eee" : colors[level] };
          },
          onEachFeature: function (f, l) {
            l.options.baseWeight = weight;
            l.bindTooltip(f.properties.name, { sticky: true });
            l.on("click", function () { show(f.properties, l); });
          },
        });
        layers[level] = layer;
        el.dataset.loaded = (el.dataset.loaded ? el.dataset.loaded + " " : "") + level;
        return layer;
      });
  }

  var boxes = document.querySelectorAll("input[name=level]");
  function redraw() {
    boxes.forEach(function (b) {
      var l = layers[b.value];
      if (!l) return;
      if (b.checked) l.addTo(map); else map.removeLayer(l);
    });
  }
  Promise.all(["micro_grid", "grid", "community", "street"].map(load))
    .then(function () {
      redraw();
      if (!map.getCenter) return;
      var at = el.dataset.at;
      if (at) {
        var p = at.split(",").map(Number);
        L.marker([p[1], p[0]]).addTo(map);
        map.setView([p[1], p[0]], 17);
      } else {
        // The outermost level drawn is the scope itself: fit the view to it.
        var outer = ["street", "community", "grid", "micro_grid"]
          .map(function (lv) { return layers[lv]; })
          .filter(function (l) { return l && l.getLayers().length; })[0];
        if (outer) map.fitBounds(outer.getBounds(), { padding: [12, 12] });
        else map.setView([30.68, 103.84], 13);
      }
      el.dataset.ready = "1";
    });
  boxes.forEach(function (b) { b.addEventListener("change", redraw); });
})();
