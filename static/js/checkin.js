/* Check-in page: scan badge QR codes with the camera and post the code; dashboard: poll attendance.
 * A static file because the CSP allows no inline script. Uses the browser's BarcodeDetector
 * where present (Chromium), otherwise the vendored jsQR (static/js/vendor, loaded on demand).
 */
(function () {
  "use strict";

  function setupCheckin(root) {
    var form = document.getElementById("checkin-form");
    var input = document.getElementById("checkin-code");
    var result = document.getElementById("checkin-result");
    var button = document.getElementById("checkin-camera");
    var video = document.getElementById("checkin-video");
    var busy = false;
    var lastCode = "";
    var lastAt = 0;

    function show(kind, message, person) {
      var box = document.createElement("div");
      box.className = "alert alert-" + kind + " mb-2";
      var text = document.createElement("div");
      text.className = "fw-semibold";
      text.textContent = message;
      box.appendChild(text);
      if (person) {
        var details = document.createElement("div");
        details.className = "small";
        details.textContent = [person.organisation, person.category].filter(Boolean).join(" · ");
        box.appendChild(details);
        if (person.bookings && person.bookings.length) {
          var list = document.createElement("ul");
          list.className = "small mb-0 ps-3";
          person.bookings.forEach(function (b) {
            var item = document.createElement("li");
            item.textContent = b.session + (b.group ? " — " + b.group : "") + " (" + b.status + ")";
            list.appendChild(item);
          });
          box.appendChild(list);
        }
      }
      result.replaceChildren(box);
    }

    // "Latest check-ins" as the server renders it (with its undo buttons), fetched again
    // after a check-in made here, so the list is right without reloading the page.
    function refreshRecent() {
      var recent = document.getElementById("checkin-recent");
      if (!recent) { return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("checkin-recent");
          if (fresh) { recent.replaceWith(fresh); }
        }).catch(function () { /* the list stays as it was; the next reload shows it */ });
    }

    function send(code) {
      if (busy) { return; }
      busy = true;
      var data = new FormData(form);
      data.set("code", code);
      fetch(root.dataset.postUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": data.get("csrf_token") || "" }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) { throw new Error("status " + response.status); }
        return response.json();
      }).then(function (answer) {
        var kinds = { ok: "success", already: "info" };
        show(kinds[answer.status] || "warning", answer.message, answer.person);
        if (navigator.vibrate && answer.status === "ok") { navigator.vibrate(80); }
        if (answer.status === "ok") { refreshRecent(); }
      }).catch(function () {
        show("danger", root.dataset.msgNetwork);
      }).then(function () {
        busy = false;
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(input.value);
      input.value = "";
      input.focus();
    });

    function found(code) {
      var now = Date.now();
      // The camera sees the same badge many times a second: post it once.
      if (code === lastCode && now - lastAt < 4000) { return; }
      lastCode = code;
      lastAt = now;
      send(code);
    }

    function loadJsQR() {
      if (window.jsQR) { return Promise.resolve(window.jsQR); }
      return new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = root.dataset.vendorUrl;
        script.onload = function () { resolve(window.jsQR); };
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }

    function makeDecoder() {
      if ("BarcodeDetector" in window) {
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return Promise.resolve(function (source) {
          return detector.detect(source).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        });
      }
      return loadJsQR().then(function (jsQR) {
        var canvas = document.createElement("canvas");
        var context = canvas.getContext("2d", { willReadFrequently: true });
        return function (source) {
          var width = source.videoWidth, height = source.videoHeight;
          if (!width || !height) { return Promise.resolve(null); }
          canvas.width = width;
          canvas.height = height;
          context.drawImage(source, 0, 0, width, height);
          var image = context.getImageData(0, 0, width, height);
          var code = jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
          return Promise.resolve(code ? code.data : null);
        };
      });
    }

    function start() {
      button.disabled = true;
      Promise.all([
        navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }),
        makeDecoder()
      ]).then(function (parts) {
        var decode = parts[1];
        video.srcObject = parts[0];
        video.hidden = false;
        button.hidden = true;
        return video.play().then(function () {
          function tick() {
            decode(video).then(function (code) {
              if (code) { found(code); }
            }).catch(function () { /* a frame that cannot be read: try the next */ }).then(function () {
              window.setTimeout(tick, 250);
            });
          }
          tick();
        });
      }).catch(function () {
        button.disabled = false;
        show("warning", root.dataset.msgCamera);
      });
    }

    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
      button.hidden = false;
      button.addEventListener("click", start);
    }
  }

  function setupAttendance(root) {
    function refresh() {
      fetch(root.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (figures) {
          if (!figures) { return; }
          root.querySelector("[data-present]").textContent = figures.present;
          root.querySelector("[data-registered]").textContent = figures.registered;
          root.querySelectorAll("[data-session]").forEach(function (cell) {
            cell.textContent = figures.sessions[cell.dataset.session] || 0;
          });
          root.querySelectorAll("[data-group]").forEach(function (cell) {
            cell.textContent = figures.groups[cell.dataset.group] || 0;
          });
        })
        .catch(function () { /* keep the last figures; try again later */ });
    }
    window.setInterval(function () {
      if (!document.hidden) { refresh(); }
    }, 10000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var checkin = document.getElementById("checkin");
    if (checkin) { setupCheckin(checkin); }
    var attendance = document.getElementById("attendance");
    if (attendance && attendance.dataset.url) { setupAttendance(attendance); }
  });
}());
