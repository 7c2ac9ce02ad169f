// Cases in the browser: the report form (resident or staff), the case page's actions and the
// reporter's rating. Photos are shrunk on the phone (longest side 1600 px, JPEG) before they go,
// as base64 in the JSON the API takes.
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";

  function send(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; });
    });
  }

  function show(el, ok, text, id) {
    el.className = ok ? "flash ok" : "flash err";
    el.setAttribute("data-testid", id);
    el.textContent = text;
  }

  // A photo file → base64 JPEG no larger than 1600 px; what cannot be drawn goes as it is
  // (the server says what is wrong with it).
  function shrink(file) {
    return new Promise(function (resolve) {
      var asIs = function () {
        var r = new FileReader();
        r.onload = function () { resolve(String(r.result)); };
        r.onerror = function () { resolve(""); };
        r.readAsDataURL(file);
      };
      if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) return asIs();
      createImageBitmap(file).then(function (img) {
        var scale = Math.min(1, 1600 / Math.max(img.width, img.height));
        if (scale === 1 && file.size < 1500000) return asIs();
        var c = document.createElement("canvas");
        c.width = Math.round(img.width * scale);
        c.height = Math.round(img.height * scale);
        c.getContext("2d").drawImage(img, 0, 0, c.width, c.height);
        resolve(c.toDataURL("image/jpeg", 0.85));
      }, asIs);
    });
  }

  function photosOf(input) {
    var files = input && input.files ? Array.prototype.slice.call(input.files) : [];
    return Promise.all(files.map(shrink));
  }

  var report = document.getElementById("report-form");
  if (report) {
    var state = document.getElementById("location-state");
    var locate = document.getElementById("use-location");
    if (locate) locate.addEventListener("click", function () {
      if (!navigator.geolocation) { state.textContent = "—"; return; }
      state.textContent = "…";
      navigator.geolocation.getCurrentPosition(function (p) {
        report.elements.lon.value = p.coords.longitude.toFixed(6);
        report.elements.lat.value = p.coords.latitude.toFixed(6);
        state.textContent = "✓ " + report.elements.lon.value + ", " + report.elements.lat.value;
      }, function (e) { state.textContent = e.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
    // The chosen category's extra questions, asked under it; their answers go with the report.
    var qbox = document.getElementById("questions");
    var asked = qbox ? JSON.parse(qbox.getAttribute("data-questions") || "{}") : {};
    var askFor = function () {
      if (!qbox) return;
      qbox.textContent = "";
      (asked[report.elements.category.value] || []).forEach(function (q) {
        var field = document.createElement("div");
        field.className = "field";
        field.setAttribute("data-question", q.code);
        var label = document.createElement("label");
        label.textContent = q.description + (q.required ? qbox.getAttribute("data-required") : "");
        var id = "q-" + q.code;
        label.htmlFor = id;
        field.appendChild(label);
        var input;
        if (q.datatype === "singlevaluelist") {
          input = document.createElement("select");
          var none = document.createElement("option");
          none.value = "";
          none.textContent = qbox.getAttribute("data-choose");
          input.appendChild(none);
          q.values.forEach(function (v) {
            var o = document.createElement("option");
            o.value = v.key;
            o.textContent = v.name;
            input.appendChild(o);
          });
        } else if (q.datatype === "multivaluelist") {
          input = document.createElement("div");
          q.values.forEach(function (v) {
            var l = document.createElement("label");
            var box = document.createElement("input");
            box.type = "checkbox";
            box.value = v.key;
            l.appendChild(box);
            l.appendChild(document.createTextNode(" " + v.name + " "));
            input.appendChild(l);
          });
        } else if (q.datatype === "text") {
          input = document.createElement("textarea");
          input.rows = 3;
        } else {
          input = document.createElement("input");
          input.type = q.datatype === "number" ? "number" : q.datatype === "datetime" ? "datetime-local" : "text";
          if (q.datatype === "number") input.step = "any";
        }
        input.id = id;
        if (q.hint) input.placeholder = q.hint;
        field.appendChild(input);
        qbox.appendChild(field);
      });
    };
    var answers = function () {
      var out = {};
      (asked[report.elements.category.value] || []).forEach(function (q) {
        var el = document.getElementById("q-" + q.code);
        if (!el) return;
        if (q.datatype === "multivaluelist") {
          var picked = Array.prototype.filter.call(el.querySelectorAll("input"), function (b) { return b.checked; })
            .map(function (b) { return b.value; });
          if (picked.length) out[q.code] = picked;
        } else if (el.value !== "") {
          // A datetime-local input has no zone: the people asked are in Beijing time.
          out[q.code] = q.datatype === "datetime" ? el.value + (el.value.length === 16 ? ":00" : "") + "+08:00" : el.value;
        }
      });
      return out;
    };
    report.elements.category.addEventListener("change", askFor);
    askFor();
    report.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = report.elements;
      var out = document.getElementById("report-result");
      var button = document.getElementById("report-submit");
      button.disabled = true;
      out.className = "muted";
      out.textContent = "…";
      photosOf(f.photos).then(function (photos) {
        var body = {
          category: f.category.value, description: f.description.value, address: f.address.value,
          micro_grid: f.micro_grid.value || null,
          lon: f.lon.value ? Number(f.lon.value) : null, lat: f.lat.value ? Number(f.lat.value) : null,
          reporter_name: f.reporter_name ? f.reporter_name.value : null,
          reporter_phone: f.reporter_phone ? f.reporter_phone.value : null,
          photos: photos,
          answers: answers(),
        };
        if (f.channel) body.channel = f.channel.value;
        if (f.urgent) body.urgent = f.urgent.checked;
        return send(report.getAttribute("data-endpoint"), body);
      }).then(function (r) {
        button.disabled = false;
        if (!r.ok) { show(out, false, r.body.message, "report-error"); return; }
        if (report.getAttribute("data-staff") === "true") {
          window.location.href = "/cases/" + r.body.id;
        } else {
          window.location.href = "/track/" + encodeURIComponent(r.body.number) + "?t=" + encodeURIComponent(r.body.follow_token) + "&new=1";
        }
      }).catch(function (err) { button.disabled = false; show(out, false, String(err), "report-error"); });
    });
  }

  var act = document.getElementById("act-form");
  if (act) {
    var chosen = null;
    act.querySelectorAll("button[name=action]").forEach(function (b) {
      b.addEventListener("click", function () { chosen = b.value; });
    });
    act.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = act.elements;
      var out = document.getElementById("act-result");
      out.className = "muted";
      out.textContent = "…";
      photosOf(chosen === "handle" ? f.photos : null).then(function (photos) {
        var body = { action: chosen, version: Number(act.getAttribute("data-version")), reason: f.reason.value, photos: photos };
        if (f.to && f.to.value) body.to = f.to.value;
        if (f.merge_into && f.merge_into.value) body.merge_into = f.merge_into.value;
        if (chosen === "rate" && f.satisfaction) body.satisfaction = f.satisfaction.value;
        return send(act.getAttribute("data-endpoint"), body);
      }).then(function (r) {
        if (!r.ok) { show(out, false, r.body.message, r.status === 409 ? "act-conflict" : "act-error"); return; }
        window.location.reload();
      });
    });
  }

  // Bulk actions on the dispatch queue: the action goes to each chosen case in turn, with the
  // version the list showed; what could not be done (changed meanwhile, not allowed) is named.
  var bulk = document.getElementById("bulk-form");
  if (bulk) {
    var all = document.getElementById("bulk-all");
    all.addEventListener("change", function () {
      document.querySelectorAll(".bulk-pick").forEach(function (b) { b.checked = all.checked; });
    });
    bulk.addEventListener("submit", function (e) {
      e.preventDefault();
      var out = document.getElementById("bulk-result");
      var picked = Array.prototype.slice.call(document.querySelectorAll(".bulk-pick:checked"));
      var f = bulk.elements;
      var done = 0, failed = [];
      out.className = "muted";
      out.textContent = "… 0/" + picked.length;
      picked.reduce(function (chain, box) {
        return chain.then(function () {
          var body = { action: f.action.value, version: Number(box.getAttribute("data-version")), reason: f.reason.value };
          if (f.to.value) body.to = f.to.value;
          return send("/api/v1/cases/" + box.value + "/actions", body).then(function (r) {
            if (r.ok) done += 1; else failed.push(box.getAttribute("aria-label") + ": " + r.body.message);
            out.textContent = "… " + (done + failed.length) + "/" + picked.length;
          });
        });
      }, Promise.resolve()).then(function () {
        show(out, failed.length === 0, done + " ✓" + (failed.length ? "\n" + failed.join("\n") : ""), failed.length ? "bulk-partial" : "bulk-done");
        if (!failed.length) window.setTimeout(function () { window.location.reload(); }, 600);
      });
    });
  }

  var rate = document.getElementById("rate-form");
  if (rate) {
    rate.addEventListener("submit", function (e) {
      e.preventDefault();
      var out = document.getElementById("rate-result");
      var choice = rate.querySelector("input[name=satisfaction]:checked");
      send(rate.getAttribute("data-endpoint"), { satisfaction: choice ? choice.value : "", comment: rate.elements.comment.value })
        .then(function (r) {
          if (!r.ok) { show(out, false, r.body.message, "rate-error"); return; }
          window.location.reload();
        });
    });
  }
})();
