// Passkeys on the staff pages (WebAuthn): "Add a passkey" on the account page and
// "Sign in with a passkey" on the sign-in page. The server's options carry binary
// fields as base64url; the browser's answers go back the same way.
(function () {
  'use strict';
  function dec(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    return Uint8Array.from(b, function (c) { return c.charCodeAt(0); }).buffer;
  }
  function enc(buf) {
    let s = '';
    new Uint8Array(buf).forEach(function (x) { s += String.fromCharCode(x); });
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function say(text) {
    const e = document.getElementById('passkey-status');
    if (e) { e.textContent = text; }
  }
  async function post(url, body) {
    const r = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    });
    const v = await r.json().catch(function () { return {}; });
    if (!r.ok) { throw new Error(v.detail || ('the service answered ' + r.status)); }
    return v;
  }
  async function register() {
    const csrf = document.getElementById('account-csrf').value;
    const begun = await post('/staff/passkey/register/start', { csrf: csrf });
    const p = begun.options.publicKey;
    p.challenge = dec(p.challenge);
    p.user.id = dec(p.user.id);
    (p.excludeCredentials || []).forEach(function (c) { c.id = dec(c.id); });
    const cred = await navigator.credentials.create({ publicKey: p });
    const credential = {
      id: cred.id, rawId: enc(cred.rawId), type: cred.type, extensions: {},
      response: {
        attestationObject: enc(cred.response.attestationObject),
        clientDataJSON: enc(cred.response.clientDataJSON)
      }
    };
    const done = await post('/staff/passkey/register/finish',
      { csrf: csrf, ceremony_id: begun.ceremony_id, credential: credential });
    say('Passkey added.');
    location.assign(done.redirect);
  }
  async function signin() {
    const csrf = document.getElementById('signin-csrf').value;
    const username = document.getElementById('username').value;
    const begun = await post('/staff/passkey/login/start', { csrf: csrf, username: username });
    const p = begun.options.publicKey;
    p.challenge = dec(p.challenge);
    (p.allowCredentials || []).forEach(function (c) { c.id = dec(c.id); });
    const a = await navigator.credentials.get({ publicKey: p });
    const credential = {
      id: a.id, rawId: enc(a.rawId), type: a.type, extensions: {},
      response: {
        authenticatorData: enc(a.response.authenticatorData),
        clientDataJSON: enc(a.response.clientDataJSON),
        signature: enc(a.response.signature),
        userHandle: a.response.userHandle ? enc(a.response.userHandle) : null
      }
    };
    const done = await post('/staff/passkey/login/finish',
      { csrf: csrf, ceremony_id: begun.ceremony_id, credential: credential });
    location.assign(done.redirect);
  }
  function wire(id, action) {
    const b = document.getElementById(id);
    if (!b) { return; }
    b.addEventListener('click', function () {
      say('Waiting for your passkey…');
      action().catch(function (e) { say(String(e.message || e)); });
    });
  }
  wire('passkey-register', register);
  wire('passkey-signin', signin);
}());
