// The Daraja simulator's phone page, live: polls for prompts about once a second and answers them without a reload.
// Without JavaScript the page still works: its forms POST and redirect back.
(() => {
  const root = document.querySelector('[data-poll-url]');
  if (!root) return;
  const pollUrl = root.dataset.pollUrl;
  let version = root.dataset.version ?? '';
  const status = document.getElementById('phone-status');
  const lists = {
    pending: root.querySelector('[data-list="pending"]'),
    recent: root.querySelector('[data-list="recent"]'),
  };
  const empties = {
    pending: root.querySelector('[data-empty="pending"]'),
    recent: root.querySelector('[data-empty="recent"]'),
  };

  const toElement = (html) => {
    const template = document.createElement('template');
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  };

  // Pending cards already shown are left alone, so a PIN being typed is never wiped by a refresh.
  function showPending(items) {
    const wanted = new Set(items.map((item) => item.id));
    for (const li of [...lists.pending.children]) if (!wanted.has(li.dataset.id)) li.remove();
    const shown = new Set([...lists.pending.children].map((li) => li.dataset.id));
    for (const item of items) if (!shown.has(item.id)) lists.pending.append(toElement(item.html));
    empties.pending.hidden = items.length > 0;
  }

  function showRecent(items) {
    lists.recent.replaceChildren(...items.map((item) => toElement(item.html)));
    empties.recent.hidden = items.length > 0;
  }

  let timer;
  async function poll() {
    clearTimeout(timer);
    try {
      const res = await fetch(`${pollUrl}?since=${encodeURIComponent(version)}`, {
        headers: { accept: 'application/json' },
        cache: 'no-store',
      });
      if (res.ok) {
        const data = await res.json();
        if (data.changed) {
          showPending(data.pending);
          showRecent(data.recent);
        }
        version = String(data.version);
      }
    } catch {
      // The simulator restarted or the network blinked: the next poll tries again.
    }
    timer = setTimeout(poll, document.hidden ? 5000 : 1000);
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) poll();
  });

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('[data-prompt-form]')) return;
    event.preventDefault();
    const action = event.submitter?.getAttribute('formaction') ?? form.getAttribute('action');
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await fetch(action, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(new FormData(form)),
      });
      const data = await res.json();
      status.textContent = res.ok ? `${data.outcome}: ${data.summary}` : data.error;
    } catch {
      status.textContent = 'Could not reach the simulator. Try again.';
      buttons.forEach((b) => { b.disabled = false; });
    }
    poll();
  });

  timer = setTimeout(poll, 1000);
})();
