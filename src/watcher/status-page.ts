// The status page's routes on the watcher's HTTP endpoint: the HTML shell at `/`, the browser bundle built
// by scripts/build-ui.mjs (dist/ui/, or an asset of the single-file artifact), the snapshot as JSON and as
// a server-sent event stream. Read-only: GET and HEAD only, like every route of the endpoint. The page is
// served with a strict Content-Security-Policy: it runs only the bundle and connects only back here, so
// even a value that slipped past escaping could neither run a script nor send anything anywhere.
import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';
import type { Reply, Route } from '../metrics/http.js';
import type { LiveFeed } from './live-feed.js';

/** Headers of every page and asset reply. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The files of the built bundle, by URL path. */
const ASSETS = {
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
} as const;

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>beacon status</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<div id="app"><main><h1>beacon status</h1><p>Loading…</p></main></div>
<noscript><p>The status page needs JavaScript. The same data: <a href="/v1/status">/v1/status</a> (JSON).</p></noscript>
</body>
</html>
`;

// Read once per process: the bundle does not change while the watcher runs.
const cache = new Map<string, Buffer | Error>();

function asset(file: string): Buffer | Error {
  let v = cache.get(file);
  if (!v) {
    try {
      v = isSea() ? Buffer.from(getAsset(`ui/${file}`)) : readFileSync(new URL(`../../ui/${file}`, import.meta.url));
    } catch (err) {
      v = new Error(`status page not built (${file}): run npm run build`, { cause: err });
    }
    cache.set(file, v);
  }
  return v;
}

function notBuilt(err: Error): Reply {
  return { status: 503, contentType: 'text/plain; charset=utf-8', body: `${err.message}\n`, headers: PAGE_HEADERS };
}

/** The status page's routes, served from `feed`. */
export function statusRoutes(feed: LiveFeed): Record<string, Route> {
  const routes: Record<string, Route> = {
    '/': () => {
      const js = asset('app.js');
      if (js instanceof Error) return notBuilt(js);
      return { status: 200, contentType: 'text/html; charset=utf-8', body: SHELL, headers: PAGE_HEADERS };
    },
    '/v1/status': () => ({ status: 200, contentType: 'application/json', body: `${feed.current()}\n`, headers: PAGE_HEADERS }),
    '/v1/status/stream': () => ({ stream: (req, res) => feed.attach(req, res) }),
  };
  for (const [path, a] of Object.entries(ASSETS)) {
    routes[path] = () => {
      const body = asset(a.file);
      if (body instanceof Error) return notBuilt(body);
      return { status: 200, contentType: a.type, body, headers: PAGE_HEADERS };
    };
  }
  return routes;
}
