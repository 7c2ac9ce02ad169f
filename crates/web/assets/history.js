// A node's shape history: every version drawn, the one in force bold; a button shows one.
(function () {
  var el = document.getElementById("history-map");
  if (!el || !window.L) return;
  var versions = JSON.parse(document.getElementById("history-data").textContent);
  var map = L.map(el, { attributionControl: !!el.dataset.tiles, preferCanvas: true, zoomSnap: 0.25 });
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: el.dataset.attribution || "" }).addTo(map);
  var layers = versions.map(function (v, i) {
    if (!v.geometry) return null;
    var current = i === versions.length - 1;
    return L.geoJSON(v.geometry, { style: { color: current ? "#c8102e" : "#666", weight: current ? 3 : 1, dashArray: current ? null : "4 4", fillOpacity: current ? 0.15 : 0 } }).addTo(map);
  });
  var drawn = layers.filter(Boolean);
  if (drawn.length) map.fitBounds(L.featureGroup(drawn).getBounds(), { padding: [16, 16] });
  else map.setView([30.68, 103.84], 13);
  document.querySelectorAll("[data-show-version]").forEach(function (b) {
    b.addEventListener("click", function () {
      var i = Number(b.dataset.showVersion);
      layers.forEach(function (l, j) {
        if (!l) return;
        l.setStyle({ weight: i === j ? 4 : 1, color: i === j ? "#1f6feb" : "#666" });
        if (i === j) { l.bringToFront(); map.fitBounds(l.getBounds(), { padding: [16, 16] }); }
      });
      el.dataset.shown = String(i);
    });
  });
  el.dataset.ready = "1";
})();
