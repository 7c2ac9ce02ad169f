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
      '<div id="cell-households"></div>' +
      '<div class="map-tools"><a href="/grid/history?code=' + encodeURIComponent(props.code) + '">' + text(panel.dataset.historyLabel) + "</a>" +
      (canEdit && props.code.length > scope.length && !editing
        ? ' <button type="button" class="secondary small" id="edit-shape">' + text(panel.dataset.editLabel) + "</button>" : "") +
      "</div>";
    var editButton = document.getElementById("edit-shape");
    if (editButton) editButton.addEventListener("click", function () { startEditing(layer); });
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
          ? staff.map(function (s) {
              return "<li>" + text(s.duty_label) + "：" + text(s.name) + (s.phone ? ' <a href="tel:' + text(s.phone) + '">' + text(s.phone) + "</a>" : "") +
                (s.party_member ? ' <span class="badge red">' + text(panel.dataset.party) + "</span>" : "") + "</li>";
            }).join("")
          : '<li class="muted">' + text(panel.dataset.noStaff) + "</li>";
      });
  }

  // Editing shapes: the corners of the chosen cell become handles; a corner shared with other
  // cells (the same coordinates) moves in all of them, so the tessellation stays whole. Saving
  // sends every changed node to the map import, which refuses overlaps and cells outside their
  // parent, all or nothing.
  var canEdit = el.dataset.canEdit === "true";
  var editing = null;

  function editableLayers() {
    var out = [];
    Object.keys(layers).forEach(function (lv) {
      layers[lv].eachLayer(function (l) {
        if (l.feature && l.feature.properties.code.length > scope.length) out.push(l);
      });
    });
    return out;
  }

  function rings(l) {
    var g = l.feature.geometry;
    return g.type === "Polygon" ? g.coordinates : [];
  }

  function startEditing(layer) {
    if (editing) return;
    editing = { changed: {}, handles: [] };
    var all = editableLayers();
    var ring = rings(layer)[0] || [];
    ring.slice(0, -1).forEach(function (c) {
      var at = [c[0], c[1]];
      var handle = L.marker([at[1], at[0]], {
        draggable: true,
        icon: L.divIcon({ className: "vertex-handle", iconSize: [14, 14] }),
      }).addTo(map);
      handle.on("dragend", function () {
        var p = handle.getLatLng();
        var to = [p.lng, p.lat];
        all.forEach(function (l) {
          var moved = false;
          rings(l).forEach(function (r) {
            r.forEach(function (v) {
              if (v[0] === at[0] && v[1] === at[1]) { v[0] = to[0]; v[1] = to[1]; moved = true; }
            });
          });
          if (moved) {
            l.setLatLngs(L.GeoJSON.coordsToLatLngs(rings(l), 1));
            editing.changed[l.feature.properties.code] = l.feature;
          }
        });
        at = to;
        el.dataset.changed = Object.keys(editing.changed).length;
      });
      editing.handles.push(handle);
    });
    var tools = document.createElement("div");
    tools.className = "map-tools";
    tools.innerHTML = '<p class="muted">' + text(panel.dataset.editHint) + "</p>" +
      '<button type="button" id="save-shape">' + text(panel.dataset.saveLabel) + "</button>" +
      '<button type="button" class="secondary" id="cancel-shape">' + text(panel.dataset.cancelLabel) + "</button>" +
      '<p id="edit-result" aria-live="polite"></p>';
    panel.appendChild(tools);
    var button = document.getElementById("edit-shape");
    if (button) button.remove();
    document.getElementById("cancel-shape").addEventListener("click", function () { window.location.reload(); });
    document.getElementById("save-shape").addEventListener("click", save);
  }

  function save() {
    var out = document.getElementById("edit-result");
    var features = Object.keys(editing.changed).map(function (code) {
      var f = editing.changed[code];
      return { type: "Feature", geometry: f.geometry,
               properties: { code: code, name: f.properties.name, kind: f.properties.kind } };
    });
    if (!features.length) { out.textContent = panel.dataset.savedLabel; return; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    out.className = "muted";
    out.textContent = "…";
    fetch("/api/v1/grid/import", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta ? meta.content : "" },
      body: JSON.stringify({ type: "FeatureCollection", features: features }),
    })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (r) {
        out.className = r.ok ? "flash ok" : "flash err";
        out.setAttribute("data-testid", r.ok ? "shape-saved" : "shape-refused");
        out.textContent = r.ok ? panel.dataset.savedLabel + " (" + r.body.changed + ")" : r.body.message;
        if (r.ok) {
          editing.handles.forEach(function (h) { map.removeLayer(h); });
          editing = null;
        }
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
  // Open cases with a pin, coloured by their clock, for those who read cases.
  function loadCases() {
    var box = document.querySelector("input[name=cases]");
    if (!box) return Promise.resolve();
    var open = "reported,accepted,dispatched,in_progress,handled,verifying,rework,returned,extension_requested,parked";
    return fetch("/api/v1/cases?limit=200&scope=" + encodeURIComponent(scope) + "&status=" + open, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (list) {
        var tint = { green: "#1e7e34", yellow: "#d4a106", red: "#c8102e", paused: "#888", done: "#888" };
        var group = L.layerGroup();
        list.items.filter(function (c) { return c.lon != null && c.lat != null; }).forEach(function (c) {
          L.circleMarker([c.lat, c.lon], { radius: 7, color: "#fff", weight: 2, fillColor: tint[c.clock] || "#555", fillOpacity: 0.95 })
            .bindTooltip(c.category_name + " · " + c.status_label)
            .on("click", function () { window.location.href = "/cases/" + c.id; })
            .addTo(group);
        });
        layers.cases = group;
        el.dataset.cases = String(group.getLayers().length);
      });
  }

  Promise.all(["micro_grid", "grid", "community", "street"].map(load).concat([loadCases()]))
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
