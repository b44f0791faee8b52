/*
 * convtrack CampaignTracker: reports a landing page's conversions to the collector.
 *
 * Served by GET /api/conversions/script with COLLECTOR_URL filled in from PUBLIC_URL
 * (docs/api.md). ES2017, no dependencies.
 *
 *   <script src="https://collector.example/api/conversions/script"></script>
 *   CampaignTracker.trackPurchase(49.99, { orderId: "A-1001" }).then(function (answer) {});
 *
 * Every public method returns a Promise resolving to the collector's JSON answer (the
 * 202 acknowledgement or a 4xx refusal's body) or to null, and never throws: a broken
 * tracker must not break the page that hosts it.
 *
 * It also remembers the campaign touches the visitor brought to the site, and sends them
 * with each conversion (docs/api.md#touch-paths): in sessionStorage, or with
 * data-touch-storage="local" on its script tag, in the site's own localStorage.
 */
(function (root) {
  "use strict";

  if (root.CampaignTracker && root.CampaignTracker.collectorUrl) {
    return; // the script is included twice: keep the first copy and its listeners
  }

  var COLLECTOR_URL = "__CONVTRACK_COLLECTOR_URL__";
  var ENDPOINT = COLLECTOR_URL + "/api/conversions";
  var PARAMS = { trackingId: "ct_tracking_id", campaignLinkId: "ct_campaign_link_id" };
  // Filled in when served, from the collector's bounds (collector/routes/tracker.py).
  var MAX_TOUCHES = "__CONVTRACK_MAX_TOUCHES__";
  var TOUCH_WINDOW_DAYS = "__CONVTRACK_TOUCH_WINDOW_DAYS__";
  var TOUCHES_KEY = "ct_touches";
  var DAY_MS = 86400000;
  var UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  var MAX_TRIES = 3;
  var FIRST_BACKOFF_MS = 400; // then x3, each with up to 25% jitter
  // Browsers refuse keepalive bodies over 64 KB; the collector refuses them anyway (413).
  var KEEPALIVE_MAX_BYTES = 63 * 1024;

  // Events waiting for their next try, by event_id: handed to sendBeacon on pagehide,
  // since timers do not outlive the page.
  var waiting = new Map();
  // What storage refused to keep (privacy modes, sandboxed frames, quota full): this page
  // only, and read before storage, which may hold an older value.
  var memory = {};
  // Where touches are kept, chosen by the script tag; the tab's attribution is always in
  // sessionStorage.
  var touchStorage = "sessionStorage";

  function warn(message, error) {
    try {
      if (error === undefined) root.console.warn("[convtrack] " + message);
      else root.console.warn("[convtrack] " + message, error);
    } catch (e) {
      // nowhere left to report to
    }
  }

  // `storage` is "sessionStorage" or "localStorage"; null when the key is nowhere.
  function readValue(key, storage) {
    if (Object.prototype.hasOwnProperty.call(memory, key)) return memory[key];
    try {
      return root[storage || "sessionStorage"].getItem(key);
    } catch (e) {
      return null; // storage disabled
    }
  }

  function writeValue(key, value, storage) {
    try {
      root[storage || "sessionStorage"].setItem(key, value);
      delete memory[key];
    } catch (e) {
      memory[key] = value; // storage disabled or full: memory keeps it for this page
    }
  }

  function removeValue(key, storage) {
    delete memory[key];
    try {
      root[storage || "sessionStorage"].removeItem(key);
    } catch (e) {
      // storage disabled: nothing was kept there
    }
  }

  /** The script tag's data-touch-storage: "local" opts in to localStorage. */
  function chooseTouchStorage() {
    try {
      var script = root.document && root.document.currentScript;
      var wanted = script ? script.getAttribute("data-touch-storage") : null;
      if (wanted === "local") return "localStorage";
      if (wanted !== null && wanted !== "session") {
        warn('data-touch-storage="' + wanted + '" is neither "session" nor "local": touches stay in sessionStorage');
      }
    } catch (e) {
      // no document (a worker): the default
    }
    return "sessionStorage";
  }

  // A touch is a campaign click the visitor came through: {tracking_id, campaign_link_id},
  // as the collector takes it. Only a UUIDv7 tracking id (what the redirect mints) can be
  // a touch: its first 48 bits are the click's Unix time in ms, so its age is known and a
  // touch past the window is dropped, as the warehouse would drop it.
  function clickTimeMs(trackingId) {
    if (typeof trackingId !== "string" || !UUID_RE.test(trackingId) || trackingId.charAt(14) !== "7") {
      return null;
    }
    return parseInt(trackingId.slice(0, 8) + trackingId.slice(9, 13), 16);
  }

  function asTouch(trackingId, campaignLinkId) {
    if (clickTimeMs(trackingId) === null) return null;
    if (typeof campaignLinkId !== "string" || !UUID_RE.test(campaignLinkId)) return null;
    return { tracking_id: trackingId.toLowerCase(), campaign_link_id: campaignLinkId.toLowerCase() };
  }

  // The collector's rule: whole days since the click, at most the window.
  function isWithinWindow(touch, nowMs) {
    return Math.floor((nowMs - clickTimeMs(touch.tracking_id)) / DAY_MS) <= TOUCH_WINDOW_DAYS;
  }

  function sameTouch(a, b) {
    return a.tracking_id === b.tracking_id && a.campaign_link_id === b.campaign_link_id;
  }

  /** The remembered touches, oldest first: well-formed, within the window, at most MAX_TOUCHES. */
  function readTouches() {
    var text = readValue(TOUCHES_KEY, touchStorage);
    if (text === null) return [];
    var stored;
    try {
      stored = JSON.parse(text);
    } catch (e) {
      stored = null;
    }
    if (!Array.isArray(stored)) {
      warn("the remembered campaign touches were unreadable: starting afresh");
      return [];
    }
    var nowMs = Date.now();
    var touches = [];
    stored.forEach(function (entry) {
      var touch = entry && typeof entry === "object" ? asTouch(entry.tracking_id, entry.campaign_link_id) : null;
      if (touch && isWithinWindow(touch, nowMs)) touches.push(touch);
    });
    return touches.slice(-MAX_TOUCHES);
  }

  function writeTouches(touches) {
    if (touches.length) writeValue(TOUCHES_KEY, JSON.stringify(touches), touchStorage);
    else removeValue(TOUCHES_KEY, touchStorage);
  }

  // On every page: what is past the window (or unreadable) leaves storage, so that
  // localStorage keeps nothing longer than the window the tracker runs again within.
  function pruneTouches() {
    try {
      var text = readValue(TOUCHES_KEY, touchStorage);
      if (text === null) return;
      var touches = readTouches();
      if (!touches.length || JSON.stringify(touches) !== text) writeTouches(touches);
    } catch (e) {
      warn("could not tidy the remembered campaign touches", e);
    }
  }

  /** A touch seen again moves to the end: the list is in the order the visitor last came. */
  function rememberTouch(touch) {
    var touches = readTouches().filter(function (t) {
      return !sameTouch(t, touch);
    });
    touches.push(touch);
    writeTouches(touches.slice(-MAX_TOUCHES));
  }

  // The redirect adds both parameters; a new click replaces the tab's attribution.
  function captureAttribution() {
    try {
      var query = new URLSearchParams(root.location.search);
      var trackingId = query.get(PARAMS.trackingId);
      var campaignLinkId = query.get(PARAMS.campaignLinkId);
      if (trackingId && campaignLinkId) {
        writeValue(PARAMS.trackingId, trackingId);
        writeValue(PARAMS.campaignLinkId, campaignLinkId);
        var touch = asTouch(trackingId, campaignLinkId);
        if (touch && isWithinWindow(touch, Date.now())) rememberTouch(touch);
      }
    } catch (e) {
      warn("could not read the attribution parameters from the URL", e);
    }
  }

  /**
   * `{trackingId, campaignLinkId}`: this tab's last click; in a tab without one, with
   * touches in localStorage, the latest touch on the site; else null.
   */
  function getAttribution() {
    try {
      var trackingId = readValue(PARAMS.trackingId);
      var campaignLinkId = readValue(PARAMS.campaignLinkId);
      if (trackingId && campaignLinkId) return { trackingId: trackingId, campaignLinkId: campaignLinkId };
      if (touchStorage !== "localStorage") return null;
      var touches = readTouches();
      var last = touches[touches.length - 1];
      return last ? { trackingId: last.tracking_id, campaignLinkId: last.campaign_link_id } : null;
    } catch (e) {
      return null;
    }
  }

  /**
   * The touches to send with a conversion: the remembered ones, oldest first, its own ids
   * last (moved there if remembered earlier), at most MAX_TOUCHES. Null when the path is
   * the conversion's own click alone, which the collector takes as no touches.
   */
  function touchPath(attribution) {
    try {
      var own = {
        tracking_id: String(attribution.trackingId).toLowerCase(),
        campaign_link_id: String(attribution.campaignLinkId).toLowerCase(),
      };
      var path = readTouches().filter(function (t) {
        return !sameTouch(t, own);
      });
      if (!path.length) return null;
      path.push(own);
      return path.slice(-MAX_TOUCHES);
    } catch (e) {
      warn("could not read the remembered campaign touches: sending the conversion without them", e);
      return null;
    }
  }

  function newEventId() {
    var c = root.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (e) {
        // randomUUID exists only in secure contexts (https): build a v4 below
      }
    }
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    var hex = "";
    for (var j = 0; j < 16; j++) hex += (bytes[j] + 0x100).toString(16).slice(1);
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function asOptions(options) {
    return options && typeof options === "object" ? options : {};
  }

  function buildEvent(eventType, options, attribution) {
    var event = {
      event_id: newEventId(), // once per call: every retry carries the same id
      tracking_id: attribution.trackingId,
      campaign_link_id: attribution.campaignLinkId,
      event_type: eventType,
    };
    // Revenue is sent as given (number or decimal string): the collector judges it.
    if (options.revenue !== undefined && options.revenue !== null) event.revenue_amount = options.revenue;
    if (options.eventData !== undefined && options.eventData !== null) event.event_data = options.eventData;
    if (options.orderId !== undefined && options.orderId !== null) event.order_id = String(options.orderId);
    if (options.currency) event.currency = String(options.currency);
    var touches = touchPath(attribution);
    if (touches) event.touches = touches;
    return event;
  }

  function byteLength(text) {
    try {
      return new TextEncoder().encode(text).length;
    } catch (e) {
      return text.length * 3; // worst case of UTF-8 per UTF-16 unit
    }
  }

  function backoffMs(attempt) {
    var base = FIRST_BACKOFF_MS * Math.pow(3, attempt - 2);
    return base * (1 + Math.random() / 4);
  }

  // 429 is a 4xx but means "later": with the same event_id a retry is safe.
  function isRetryable(status) {
    return status >= 500 || status === 429;
  }

  function beacon(body) {
    try {
      var nav = root.navigator;
      // A string body goes as text/plain: no preflight, which an unloading page cannot wait for.
      return !!(nav && typeof nav.sendBeacon === "function" && nav.sendBeacon(ENDPOINT, body));
    } catch (e) {
      return false;
    }
  }

  /** Resolves false after `ms`, or true if the page is hidden first and a beacon took over. */
  function pause(ms, eventId, body) {
    return new Promise(function (resolve) {
      var timer = setTimeout(function () {
        waiting.delete(eventId);
        resolve(false);
      }, ms);
      waiting.set(eventId, {
        body: body,
        handOff: function () {
          clearTimeout(timer);
          waiting.delete(eventId);
          resolve(true);
        },
      });
    });
  }

  function onPageHide() {
    Array.from(waiting.values()).forEach(function (entry) {
      if (beacon(entry.body)) entry.handOff();
    });
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (e) {
      return null;
    }
  }

  function describeProblems(answer) {
    var detail = answer && answer.detail;
    if (!detail) return "no details";
    return [].concat(detail)
      .map(function (p) {
        if (!p || !p.code) return JSON.stringify(p);
        return p.code + (p.field ? " (" + p.field + ")" : "") + ": " + p.message;
      })
      .join("; ");
  }

  async function deliver(event) {
    var body = JSON.stringify(event);
    if (typeof root.fetch !== "function") {
      if (!beacon(body)) warn(event.event_type + " not sent: this browser has neither fetch nor sendBeacon");
      return null; // a beacon's answer cannot be read
    }
    // keepalive lets the request finish after the page is gone (navigation, tab closed).
    var init = {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body,
      keepalive: byteLength(body) <= KEEPALIVE_MAX_BYTES,
      credentials: "omit",
      mode: "cors",
    };
    var answer = null;
    for (var attempt = 1; attempt <= MAX_TRIES; attempt++) {
      if (attempt > 1 && (await pause(backoffMs(attempt), event.event_id, body))) {
        return null; // the page is going away; sendBeacon carries the event
      }
      var response;
      try {
        response = await root.fetch(ENDPOINT, init);
      } catch (e) {
        continue; // network error (or a CORS refusal, which looks the same): try again
      }
      answer = await readJson(response);
      if (response.ok) {
        if (answer && answer.warnings && answer.warnings.length) {
          warn(event.event_type + " accepted with warnings: " + describeProblems({ detail: answer.warnings }));
        }
        return answer;
      }
      if (!isRetryable(response.status)) {
        warn(event.event_type + " refused by the collector (HTTP " + response.status + "): " + describeProblems(answer));
        return answer;
      }
    }
    warn(event.event_type + " not delivered after " + MAX_TRIES + " tries: " + COLLECTOR_URL + " is unreachable or failing");
    return answer;
  }

  /** Report a conversion of `eventType`; options: revenue, eventData, orderId, currency. */
  function track(eventType, options) {
    try {
      var attribution = getAttribution();
      if (!attribution) {
        warn(
          "no campaign attribution in this tab (" + PARAMS.trackingId + " / " + PARAMS.campaignLinkId +
            " were never in the URL): " + eventType + " not sent"
        );
        return Promise.resolve(null);
      }
      var event = buildEvent(String(eventType), asOptions(options), attribution);
      return deliver(event).catch(function (e) {
        warn(eventType + " not sent: unexpected error", e);
        return null;
      });
    } catch (e) {
      warn(eventType + " not sent: unexpected error", e);
      return Promise.resolve(null);
    }
  }

  function trackPurchase(revenue, options) {
    try {
      var opts = asOptions(options);
      return track("purchase", revenue === undefined ? opts : Object.assign({}, opts, { revenue: revenue }));
    } catch (e) {
      warn("purchase not sent: unexpected error", e);
      return Promise.resolve(null);
    }
  }

  function trackNewsletterSignup(options) {
    return track("newsletter_signup", options);
  }

  function trackCourseEnrollment(options) {
    return track("course_enrollment", options);
  }

  try {
    touchStorage = chooseTouchStorage();
    pruneTouches();
    captureAttribution();
    root.addEventListener("pagehide", onPageHide);
    root.CampaignTracker = Object.freeze({
      collectorUrl: COLLECTOR_URL,
      getAttribution: getAttribution,
      track: track,
      trackPurchase: trackPurchase,
      trackNewsletterSignup: trackNewsletterSignup,
      trackCourseEnrollment: trackCourseEnrollment,
    });
  } catch (e) {
    warn("the tracker could not start", e);
  }
})(typeof window !== "undefined" ? window : self);
