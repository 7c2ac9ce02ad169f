// Weige pages: send the CSRF token with htmx requests, and ask before destructive actions.
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (e) {
    if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
  });
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  // Table uploads (CSV or XLSX): the file goes as the request body to the form's data-upload
  // address; the answer (imported counts, or each bad row) is shown under the form.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var file = form.querySelector("input[type=file]").files[0];
      var out = form.querySelector("[data-upload-result]");
      if (!file) return;
      var skip = form.querySelector("input[name=skip_bad_rows]");
      var url = form.getAttribute("data-upload") + (skip && skip.checked ? "?skip_bad_rows=true" : "");
      var type = /\.csv$/i.test(file.name) ? "text/csv" : "application/octet-stream";
      out.className = "muted";
      out.textContent = "…";
      fetch(url, { method: "POST", body: file, credentials: "same-origin",
                   headers: { "Content-Type": type, "X-CSRF-Token": meta ? meta.content : "" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (r) {
          out.className = r.ok ? "flash ok" : "flash err";
          out.setAttribute("data-testid", r.ok ? "upload-ok" : "upload-err");
          if (!r.ok) { out.textContent = r.body.message; return; }
          var b = r.body, parts = [];
          ["residents", "added", "updated", "existing", "households_added", "buildings_added"].forEach(function (k) {
            if (typeof b[k] === "number") parts.push(k + ": " + b[k]);
          });
          if (b.skipped && b.skipped.length) parts.push("skipped: " + b.skipped.map(function (s) { return s.line + " " + s.field + " " + s.message; }).join("; "));
          out.textContent = form.getAttribute("data-done") + " " + parts.join(", ");
        })
        .catch(function (err) { out.className = "flash err"; out.textContent = String(err); });
    });
  });
  var toggle = document.getElementById("nav-toggle");
  if (toggle) toggle.addEventListener("click", function () {
    document.body.classList.toggle("nav-open");
  });
})();
