// The recipient's playback page: one-time code, terms of use, recordings.
// It talks only to the link's JSON API under data-base; every text comes
// from the page-strings block, so no script or style is inline.
(function () {
	'use strict';

	const POLL_MS = 5000;
	const body = document.body;
	const base = body.dataset.base || '';
	const locale = body.dataset.locale || 'en-GB';
	let strings = {};
	try {
		strings = JSON.parse(document.getElementById('page-strings').textContent);
	} catch (e) {
		strings = {};
	}

	const $ = (id) => document.getElementById(id);
	const el = {
		message: $('message'),
		lang: $('lang'),
		langForm: $('lang-form'),
		stepCode: $('step-code'),
		stepTerms: $('step-terms'),
		stepRecordings: $('step-recordings'),
		requestCode: $('request-code'),
		codeForm: $('code-form'),
		code: $('code'),
		submitCode: $('submit-code'),
		terms: $('terms'),
		termsFallback: $('terms-fallback'),
		acceptTerms: $('accept-terms'),
		recordings: $('recordings'),
	};

	let timeZone = '';
	let termsLanguage = body.dataset.lang || 'en';
	let pollTimer = 0;
	let polling = false;
	const shown = new Map(); // recording id → its <details>

	// t returns the page string key with {name} placeholders filled in.
	function t(key, vars) {
		let s = strings[key] || key;
		if (vars) {
			for (const k of Object.keys(vars)) {
				s = s.split('{' + k + '}').join(String(vars[k]));
			}
		}
		return s;
	}

	function say(text, kind) {
		el.message.textContent = text;
		el.message.dataset.kind = kind || 'info';
		el.message.hidden = !text;
	}

	function show(step) {
		body.dataset.step = step;
		el.stepCode.hidden = step !== 'code';
		el.stepTerms.hidden = step !== 'terms';
		el.stepRecordings.hidden = step !== 'recordings';
	}

	async function api(method, path, payload) {
		const opts = {
			method: method,
			headers: { 'Accept': 'application/json' },
			credentials: 'same-origin',
			cache: 'no-store',
		};
		if (payload !== undefined) {
			opts.headers['Content-Type'] = 'application/json';
			opts.body = JSON.stringify(payload);
		}
		const res = await fetch(base + '/api/' + path, opts);
		let data = {};
		try {
			data = await res.json();
		} catch (e) {
			data = {};
		}
		return { status: res.status, data: data || {}, headers: res.headers };
	}

	// tooMany is the wait message for a 429, with the local time to try
	// again when the server sent Retry-After.
	function tooMany(headers) {
		const ra = headers.get('Retry-After');
		let at = null;
		if (ra && /^\d+$/.test(ra.trim())) {
			at = new Date(Date.now() + parseInt(ra, 10) * 1000);
		} else if (ra && !isNaN(Date.parse(ra))) {
			at = new Date(Date.parse(ra));
		}
		if (!at) {
			return t('tooMany');
		}
		const time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }).format(at);
		return t('tooManyUntil', { time: time });
	}

	function busy(button, on) {
		button.disabled = on;
	}

	// --- one-time code ---

	el.requestCode.addEventListener('click', async () => {
		busy(el.requestCode, true);
		try {
			const r = await api('POST', 'code?lang=' + encodeURIComponent(body.dataset.lang || 'en'));
			if (r.status === 202 || r.status === 200) {
				say(t('codeSent'));
				el.code.focus();
			} else if (r.status === 429) {
				say(tooMany(r.headers), 'error');
			} else if (r.status === 404 || r.status === 410) {
				expired();
			} else {
				say(t('error'), 'error');
			}
		} catch (e) {
			say(t('error'), 'error');
		} finally {
			busy(el.requestCode, false);
		}
	});

	el.codeForm.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const code = el.code.value.replace(/\s+/g, '');
		if (!/^\d{6}$/.test(code)) {
			say(t('codeFormat'), 'error');
			el.code.focus();
			return;
		}
		busy(el.submitCode, true);
		try {
			const r = await api('POST', 'session', { code: code });
			if (r.status === 200) {
				el.code.value = '';
				say('');
				if (r.data.termsAccepted) {
					await refresh();
				} else {
					await loadTerms();
				}
			} else if (r.status === 401) {
				const left = r.data.attemptsLeft;
				say(typeof left === 'number' && left > 0 ? t('wrongCode', { n: left }) : t('codeUsedUp'), 'error');
				el.code.select();
			} else if (r.status === 429) {
				say(tooMany(r.headers), 'error');
			} else if (r.status === 404 || r.status === 410) {
				expired();
			} else {
				say(t('error'), 'error');
			}
		} catch (e) {
			say(t('error'), 'error');
		} finally {
			busy(el.submitCode, false);
		}
	});

	// --- terms of use ---

	async function loadTerms() {
		const want = body.dataset.lang || 'en';
		const r = await api('GET', 'terms?language=' + encodeURIComponent(want));
		if (r.status === 200) {
			termsLanguage = r.data.language || want;
			el.terms.textContent = r.data.text || '';
			el.terms.lang = termsLanguage === want ? locale : 'en';
			el.termsFallback.hidden = termsLanguage === want;
			show('terms');
		} else {
			handleStatus(r);
		}
	}

	el.acceptTerms.addEventListener('click', async () => {
		busy(el.acceptTerms, true);
		try {
			const r = await api('POST', 'terms', { language: termsLanguage, accept: true });
			if (r.status === 200) {
				say('');
				await refresh();
			} else {
				handleStatus(r);
			}
		} catch (e) {
			say(t('error'), 'error');
		} finally {
			busy(el.acceptTerms, false);
		}
	});

	// --- recordings ---

	function fmt(iso, opts, zone) {
		const d = new Date(iso);
		if (isNaN(d.getTime())) {
			return String(iso || '');
		}
		try {
			return new Intl.DateTimeFormat(locale, Object.assign({ timeZone: zone || undefined }, opts)).format(d);
		} catch (e) {
			return new Intl.DateTimeFormat(locale, opts).format(d);
		}
	}
	const dateOpts = { year: 'numeric', month: '2-digit', day: '2-digit' };
	const timeOpts = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };

	function duration(ms) {
		const s = Math.max(0, Math.round((Number(ms) || 0) / 1000));
		const h = Math.floor(s / 3600);
		const m = Math.floor((s % 3600) / 60);
		const ss = String(s % 60).padStart(2, '0');
		return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + ss : m + ':' + ss;
	}

	function noMenu(ev) {
		ev.preventDefault();
	}

	// build makes one recording's <details>: summary, details, player.
	function build(r, open) {
		const id = String(r.id);
		const date = fmt(r.start, dateOpts, timeZone);
		const time = fmt(r.start, timeOpts, timeZone);
		const d = document.createElement('details');
		d.className = 'recording';
		d.dataset.id = id;
		d.open = open;
		const sum = document.createElement('summary');
		sum.textContent = date + ' ' + time + ' · ' + duration(r.durationMs);
		d.appendChild(sum);

		const dl = document.createElement('dl');
		const row = (label, value, cls) => {
			const dt = document.createElement('dt');
			dt.textContent = label;
			const dd = document.createElement('dd');
			dd.textContent = value;
			if (cls) {
				dd.className = cls;
			}
			dl.append(dt, dd);
		};
		row(t('date'), date, 'date');
		row(t('time'), time, 'time');
		row(t('duration'), duration(r.durationMs), 'duration');
		if (r.accessNumber) {
			row(t('accessNumber'), r.accessNumber, 'access-number');
		}
		if (r.queueName) {
			row(t('queueName'), r.queueName, 'queue-name');
		}
		if (r.expiresAt) {
			const ends = fmt(r.expiresAt, dateOpts, timeZone) + ' ' + fmt(r.expiresAt, timeOpts, timeZone);
			row(t('accessEnds'), timeZone ? ends + ' (' + timeZone + ')' : ends, 'expires');
		}
		d.appendChild(dl);

		const a = document.createElement('audio');
		a.controls = true;
		a.setAttribute('controlslist', 'nodownload');
		a.setAttribute('disableremoteplayback', '');
		a.preload = 'none';
		a.dataset.id = id;
		a.setAttribute('aria-label', t('playerLabel') + ' ' + sum.textContent);
		a.addEventListener('contextmenu', noMenu);
		a.addEventListener('play', () => {
			for (const other of el.recordings.querySelectorAll('audio')) {
				if (other !== a && !other.paused) {
					other.pause();
				}
			}
		});
		a.src = r.audio;
		d.appendChild(a);
		return d;
	}

	// drop stops a recording's player and takes it off the page.
	function drop(id) {
		const d = shown.get(id);
		if (!d) {
			return;
		}
		const a = d.querySelector('audio');
		if (a) {
			a.pause();
			a.removeAttribute('src');
			a.load();
		}
		d.remove();
		shown.delete(id);
	}

	function dropAll() {
		for (const id of Array.from(shown.keys())) {
			drop(id);
		}
	}

	function render(data) {
		timeZone = data.timeZone || timeZone;
		const list = Array.isArray(data.recordings) ? data.recordings : [];
		const ids = new Set(list.map((r) => String(r.id)));
		for (const id of Array.from(shown.keys())) {
			if (!ids.has(id)) {
				drop(id);
			}
		}
		if (list.length === 0) {
			expired();
			return;
		}
		const first = shown.size === 0;
		let prev = null;
		for (const r of list) {
			const id = String(r.id);
			let d = shown.get(id);
			if (!d) {
				d = build(r, first && list.length === 1);
				shown.set(id, d);
				el.recordings.insertBefore(d, prev ? prev.nextSibling : el.recordings.firstChild);
			}
			prev = d;
		}
		show('recordings');
	}

	function stopPolling() {
		polling = false;
		clearTimeout(pollTimer);
	}

	function schedule() {
		clearTimeout(pollTimer);
		if (polling) {
			pollTimer = setTimeout(poll, POLL_MS);
		}
	}

	async function poll() {
		try {
			const r = await api('GET', 'recordings');
			if (!polling) {
				return;
			}
			if (r.status === 200) {
				render(r.data);
			} else {
				handleStatus(r, true);
			}
		} catch (e) {
			// A network hiccup: try again at the next tick.
		}
		schedule();
	}

	// refresh loads the recordings once and starts polling.
	async function refresh() {
		try {
			const r = await api('GET', 'recordings');
			if (r.status === 200) {
				say('');
				render(r.data);
				if (body.dataset.step === 'recordings') {
					polling = true;
					schedule();
				}
			} else {
				handleStatus(r, false);
			}
		} catch (e) {
			show('code');
			say(t('error'), 'error');
		}
	}

	// handleStatus moves the page to the step an error answer calls for.
	function handleStatus(r, wasPlaying) {
		if (r.status === 401) {
			const ended = wasPlaying || body.dataset.step === 'terms' || body.dataset.step === 'recordings';
			stopPolling();
			dropAll();
			show('code');
			say(ended ? t('sessionEnded') : '', 'error');
		} else if (r.status === 403) {
			stopPolling();
			dropAll();
			loadTerms().catch(() => say(t('error'), 'error'));
		} else if (r.status === 404 || r.status === 410) {
			expired();
		} else if (r.status === 429) {
			say(tooMany(r.headers), 'error');
		} else if (!wasPlaying) {
			say(t('error'), 'error');
		}
	}

	function expired() {
		stopPolling();
		dropAll();
		show('expired');
		say(t('expired'), 'expired');
	}

	// --- language ---

	el.lang.addEventListener('change', () => {
		const u = new URL(window.location.href);
		u.searchParams.set('lang', el.lang.value);
		window.location.assign(u.toString());
	});
	el.langForm.addEventListener('submit', (ev) => {
		ev.preventDefault();
		el.lang.dispatchEvent(new Event('change'));
	});

	// No context menu on the players, nor anywhere in the list.
	el.recordings.addEventListener('contextmenu', noMenu);

	say('');
	refresh();
})();
