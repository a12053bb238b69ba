// The door page: reads a ticket's QR code with the camera (the browser's BarcodeDetector where it exists, else jsQR,
// loaded from this site), or takes a typed code; shows the ticket and admits some or all of its people through
// POST /door/api/checkins. The browser already holds the door's Basic credentials, so fetch sends them.
(function () {
  var root = document.getElementById('door');
  if (!root || !root.getAttribute('data-movie-id')) return;
  var api = root.getAttribute('data-api');
  var movieId = Number(root.getAttribute('data-movie-id'));
  var result = document.getElementById('door-result');
  var video = document.getElementById('scan-video');
  var status = document.getElementById('scan-status');
  var startBtn = document.getElementById('scan-start');
  var stopBtn = document.getElementById('scan-stop');
  var stream = null;
  var scanning = false;
  var canvas = document.createElement('canvas');
  var ctx = canvas.getContext('2d', { willReadFrequently: true });
  var ALPHABET = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$/;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function normalise(s) { return String(s || '').replace(/[\s-]+/g, '').toUpperCase(); }

  function show(nodes, kind) {
    result.className = 'door-result' + (kind ? ' door-result-' + kind : '');
    result.textContent = '';
    nodes.forEach(function (n) { result.appendChild(n); });
    result.focus();
  }

  function facts(t) {
    var dl = el('dl', 'facts');
    [['Name', t.customerName], ['Movie', t.movieTitle], ['Show', t.showTimeDisplay], ['Seats', String(t.quantity)],
      ['Already in', t.admitted + ' of ' + t.quantity]].forEach(function (row) {
      if (row[1] === undefined) return;
      var d = el('div');
      d.appendChild(el('dt', '', row[0]));
      d.appendChild(el('dd', '', row[1]));
      dl.appendChild(d);
    });
    return dl;
  }

  function lookup(code) {
    code = normalise(code);
    if (!ALPHABET.test(code)) return show([el('p', 'alert alert-error', 'A ticket code is 8 letters and digits, like K7M2Q9XA.')], 'refused');
    fetch(api + '/tickets/' + encodeURIComponent(code) + '?movieId=' + movieId, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) { return res.json().then(function (body) { return { status: res.status, body: body }; }); })
      .then(function (r) {
        if (r.status !== 200) return show([el('p', 'alert alert-error', r.body.message || 'No ticket has this code.')], 'refused');
        var t = r.body;
        var nodes = [el('h2', '', t.ticketCode), facts(t)];
        if (t.refusal) {
          nodes.unshift(el('p', 'alert alert-error door-refusal', t.refusal.message));
          return show(nodes, 'refused');
        }
        var left = t.quantity - t.admitted;
        var form = el('form', 'door-admit');
        var label = el('label', '', 'People to let in');
        label.setAttribute('for', 'admit-n');
        var input = el('input');
        input.id = 'admit-n';
        input.type = 'number';
        input.min = '1';
        input.max = String(left);
        input.value = String(left);
        input.inputMode = 'numeric';
        var btn = el('button', 'button button-primary', 'Admit');
        btn.type = 'submit';
        form.appendChild(label);
        form.appendChild(input);
        form.appendChild(btn);
        form.addEventListener('submit', function (e) {
          e.preventDefault();
          admit(t.ticketCode, Number(input.value));
        });
        nodes.push(form);
        show(nodes, 'ok');
      })
      .catch(function () { show([el('p', 'alert alert-error', 'Could not reach Tikiti. Check the connection and try again.')], 'refused'); });
  }

  function admit(code, n) {
    fetch(api + '/checkins', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ movieId: movieId, ticketCode: code, admit: n }),
    })
      .then(function (res) { return res.json().then(function (body) { return { status: res.status, body: body }; }); })
      .then(function (r) {
        if (r.status === 200) {
          var b = r.body;
          return show([el('p', 'alert alert-ok door-admitted', 'Let in ' + b.admittedNow + '. ' + b.admitted + ' of ' + b.quantity + ' now in.'),
            el('p', '', b.customerName + ' · ' + b.movieTitle + ' · ' + b.ticketCode)], 'ok');
        }
        show([el('p', 'alert alert-error door-refusal', r.body.message || 'Refused.')], 'refused');
      })
      .catch(function () { show([el('p', 'alert alert-error', 'Could not reach Tikiti: nobody was let in. Try again.')], 'refused'); });
  }

  document.getElementById('code-form').addEventListener('submit', function (e) {
    e.preventDefault();
    lookup(document.getElementById('ticketCode').value);
  });

  // ── the camera ──
  var detector = null;
  function loadJsQR() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) return resolve();
      var s = document.createElement('script');
      s.src = root.getAttribute('data-jsqr');
      s.onload = function () { resolve(); };
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }
  function reader() {
    if ('BarcodeDetector' in window) {
      try {
        detector = new window.BarcodeDetector({ formats: ['qr_code'] });
        return Promise.resolve();
      } catch (e) { detector = null; }
    }
    return loadJsQR();
  }
  function decodeFrame() {
    if (detector) {
      return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
    }
    var w = video.videoWidth;
    var h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    canvas.width = w;
    canvas.height = h;
    ctx.drawImage(video, 0, 0, w, h);
    var found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' });
    return Promise.resolve(found ? found.data : null);
  }
  function tick() {
    if (!scanning) return;
    decodeFrame().then(function (text) {
      var code = normalise(text);
      if (text && ALPHABET.test(code)) {
        stop();
        status.textContent = 'Read ' + code + '.';
        document.getElementById('ticketCode').value = code;
        lookup(code);
      } else setTimeout(tick, 150);
    }).catch(function () { setTimeout(tick, 300); });
  }
  function stop() {
    scanning = false;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.hidden = true;
    stopBtn.hidden = true;
    startBtn.hidden = false;
  }
  startBtn.addEventListener('click', function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = 'This browser cannot use the camera here: type the code instead.';
      return;
    }
    status.textContent = 'Starting the camera…';
    reader().then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      startBtn.hidden = true;
      stopBtn.hidden = false;
      return video.play();
    }).then(function () {
      status.textContent = 'Point the camera at the QR code.';
      scanning = true;
      tick();
    }).catch(function () {
      stop();
      status.textContent = 'The camera could not start (permission refused, or no camera): type the code instead.';
    });
  });
  stopBtn.addEventListener('click', function () {
    stop();
    status.textContent = '';
  });
})();
