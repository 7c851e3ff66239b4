-- wrk script for the beacon benchmark (bench/beacon.pl): POSTs the body
-- a browser's servqual script sends, keep-alive, to the URL's path (the
-- beacon location, or a "return 204" one for comparison).  A response
-- other than 204 is an error.
--
-- done() prints the line bench/beacon.pl reads:
--   RESULT requests=... duration_us=... errors=... p50_us=... p99_us=...

wrk.method = "POST"
wrk.body = "p=/&n=navigate&lcp=1840.2&inp=96.0&cls=0.02130&fcp=912.5"
           .. "&ttfb=180.3"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"

local bad = 0

function response(status, headers, body)
    if status ~= 204 then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.duration,
        e.connect + e.read + e.write + e.status + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
