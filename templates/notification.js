// The standardized notification, checked as it is typed. This script holds no rule of
// its own: it posts the form, as the page would post it, to the server's check (the
// filing command's validation, nothing written) and shows each error the server
// returns beside the field whose name is the error's JSON Pointer, with the same words
// the page shows after a submission. Without this script the form works the same; the
// server checks it when it is filed.
(function () {
  "use strict";
  var form = document.getElementById("notification-form");
  if (!form || !form.dataset.check || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var status = document.getElementById("form-check-status");
  // Fields the person has changed: only their errors are shown while typing (an empty
  // field they have not reached yet is not an error to shout about).
  var touched = new Set();
  var last = null;
  var timer = null;
  var inFlight = false;
  var again = false;
  var sent = 0;
  var applied = 0;

  function wrapperOf(name) {
    var all = form.querySelectorAll("div.field[data-pointer]");
    for (var i = 0; i < all.length; i++) {
      if (all[i].dataset.pointer === name) {
        return all[i];
      }
    }
    return null;
  }

  // The element the server names the error after: a group's fieldset, else the control.
  function controlOf(wrapper) {
    return wrapper.querySelector("fieldset") || wrapper.querySelector("[name]");
  }

  function messagesFor(wrapper, errors) {
    var pointer = wrapper.dataset.pointer;
    var group = wrapper.querySelector("fieldset") !== null;
    return errors
      .filter(function (e) {
        return e.pointer === pointer || (group && e.pointer.indexOf(pointer + "/") === 0);
      })
      .map(function (e) {
        return e.message;
      });
  }

  function setDescribedBy(control, id, on) {
    var ids = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    ids = ids.filter(function (x) {
      return x !== id;
    });
    if (on) {
      ids.push(id);
    }
    if (ids.length) {
      control.setAttribute("aria-describedby", ids.join(" "));
    } else {
      control.removeAttribute("aria-describedby");
    }
  }

  // Shows (or clears) one field's error; returns its text when it changed, else null.
  function show(wrapper, errors) {
    var control = controlOf(wrapper);
    if (!control || !control.id) {
      return null;
    }
    var id = control.id + "-error";
    var messages = messagesFor(wrapper, errors);
    var text = messages.length ? "Error: " + messages.join("; ") : "";
    var p = document.getElementById(id);
    var before = p ? p.textContent : "";
    if (text === before) {
      return null;
    }
    if (text) {
      if (!p) {
        p = document.createElement("p");
        p.className = "field-error";
        p.id = id;
        var anchor = wrapper.querySelector(".choice, input, select");
        anchor.parentNode.insertBefore(p, anchor);
      }
      p.textContent = text;
    } else if (p) {
      p.parentNode.removeChild(p);
    }
    setDescribedBy(control, id, !!text);
    if (control.tagName !== "FIELDSET") {
      if (text) {
        control.setAttribute("aria-invalid", "true");
      } else {
        control.removeAttribute("aria-invalid");
      }
    }
    return text;
  }

  function apply(errors) {
    var said = null;
    touched.forEach(function (name) {
      var wrapper = wrapperOf(name);
      if (!wrapper) {
        return;
      }
      var changed = show(wrapper, errors);
      if (changed !== null && name === last) {
        var label = wrapper.dataset.label || name;
        said = label + ": " + (changed || "no problem now");
      }
    });
    if (said !== null && status) {
      status.textContent = said;
    }
  }

  function check() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    var mine = ++sent;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.dataset.check, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",
      headers: { Accept: "application/problem+json" },
    })
      .then(function (r) {
        if (r.status === 204) {
          return [];
        }
        var type = r.headers.get("content-type") || "";
        if (r.status === 422 && type.indexOf("application/problem+json") === 0) {
          return r.json().then(function (p) {
            return Array.isArray(p.errors) ? p.errors : [];
          });
        }
        // Signed out, too many checks, a server fault: no verdict; the server checks
        // the form again when it is filed.
        return null;
      })
      .then(function (errors) {
        if (errors !== null && mine > applied) {
          applied = mine;
          apply(errors);
        }
      })
      .catch(function () {})
      .then(function () {
        inFlight = false;
        if (again) {
          again = false;
          check();
        }
      });
  }

  function later(event, wait) {
    var name = event.target && event.target.name;
    if (!name || name.charAt(0) !== "/") {
      return;
    }
    touched.add(name);
    last = name;
    clearTimeout(timer);
    timer = setTimeout(check, wait);
  }

  form.addEventListener("input", function (event) {
    later(event, 400);
  });
  form.addEventListener("change", function (event) {
    later(event, 50);
  });
})();
