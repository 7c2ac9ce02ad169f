// The phone operators' page, for the keyboard: the number and Enter look the caller up (their
// earlier cases, the residents with that number); Alt+1…9 adds the call to that open case;
// Ctrl+Enter registers a new case; Esc clears the form for the next call.
(function () {
  var form = document.getElementById("phone-form");
  if (!form) return;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";
  var labels = document.getElementById("t-labels").dataset;
  var f = form.elements;
  var body = document.getElementById("caller-body");
  var out = document.getElementById("p-result");
  var open = []; // the caller's open cases, in the order shown
  var masked = "";
  var hint = body.textContent;

  function call(method, url, data) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: data ? JSON.stringify(data) : undefined,
    }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, body: b }; });
    });
  }

  function show(ok, text, id) {
    out.className = ok ? "flash ok" : "flash err";
    out.setAttribute("data-testid", id);
    out.textContent = text;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function lookup() {
    var phone = f.reporter_phone.value.trim();
    if (!phone) return Promise.resolve();
    var scope = form.getAttribute("data-scope");
    var url = "/api/v1/callers?phone=" + encodeURIComponent(phone) + (scope ? "&scope=" + encodeURIComponent(scope) : "");
    body.textContent = "…";
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (b) { return { ok: r.ok, body: b }; });
    }).then(function (r) {
      body.textContent = "";
      body.className = "";
      open = [];
      if (!r.ok) { body.appendChild(el("p", r.body.message, "flash err")); return; }
      var c = r.body;
      masked = c.phone;
      var head = el("p");
      head.appendChild(el("code", c.phone));
      body.appendChild(head);
      c.residents.forEach(function (p) {
        body.appendChild(el("p", labels.resident + "：" + p.name + " · " + p.address));
        if (!f.reporter_name.value) f.reporter_name.value = p.name;
        if (!f.address.value) f.address.value = p.address;
      });
      if (!c.cases.length) { body.appendChild(el("p", labels.none, "muted")); return; }
      body.appendChild(el("h3", labels.earlier + "（" + labels.open + " " + c.open + "）"));
      var list = el("ul", "", "caller-cases");
      c.cases.forEach(function (k) {
        var li = el("li");
        li.setAttribute("data-testid", "caller-case");
        var a = el("a", k.number);
        a.href = "/cases/" + k.id;
        li.appendChild(a);
        li.appendChild(document.createTextNode(" " + k.category_name + " · " + k.status_label + " · " + k.description.slice(0, 40)));
        if (["closed", "rejected", "merged"].indexOf(k.status) < 0 && open.length < 9) {
          open.push(k);
          var n = open.length;
          var b = el("button", labels.add + "（Alt+" + n + "）", "secondary small");
          b.type = "button";
          b.setAttribute("data-testid", "add-to-case");
          b.addEventListener("click", function () { addTo(k); });
          li.appendChild(document.createTextNode(" "));
          li.appendChild(b);
        }
        list.appendChild(li);
      });
      body.appendChild(list);
    }).catch(function (err) { body.textContent = String(err); });
  }

  // The call goes into the open case's history as a note: who called and what they said.
  function addTo(k) {
    var said = f.description.value.trim();
    if (!said) { show(false, labels.empty, "phone-error"); f.description.focus(); return; }
    var who = f.reporter_name.value.trim();
    var reason = labels.note + "（" + (who ? who + " " : "") + masked + "）：" + said;
    call("POST", "/api/v1/cases/" + k.id + "/actions", { action: "comment", version: k.version, reason: reason })
      .then(function (r) {
        if (!r.ok) { show(false, r.body.message, "phone-error"); return; }
        show(true, labels.added + " " + k.number, "phone-added");
        clear(false);
      }).catch(function (err) { show(false, String(err), "phone-error"); });
  }

  function clear(all) {
    form.reset();
    open = [];
    masked = "";
    if (all) out.textContent = "";
    body.className = "muted";
    body.textContent = hint;
    f.reporter_phone.focus();
  }

  f.reporter_phone.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      lookup().then(function () { f.reporter_name.focus(); });
    }
  });

  form.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    if (e.key === "Escape") { e.preventDefault(); clear(true); }
    if (e.altKey && e.key >= "1" && e.key <= "9") {
      var k = open[Number(e.key) - 1];
      if (k) { e.preventDefault(); addTo(k); }
    }
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var button = document.getElementById("p-submit");
    button.disabled = true;
    call("POST", "/api/v1/cases", {
      channel: "phone", category: f.category.value.trim(), description: f.description.value,
      reporter_phone: f.reporter_phone.value || null, reporter_name: f.reporter_name.value || null,
      address: f.address.value, micro_grid: f.micro_grid.value.trim() || null, urgent: f.urgent.checked,
    }).then(function (r) {
      button.disabled = false;
      if (!r.ok) { show(false, r.body.message, "phone-error"); return; }
      show(true, labels.made + " " + r.body.number + " · " + r.body.micro_grid.name, "phone-made");
      clear(false);
    }).catch(function (err) { button.disabled = false; show(false, String(err), "phone-error"); });
  });
})();
