-- wrk script for the servqual benchmarks.
--
-- Sends "GET" requests whose X-Forwarded-For rotates over client addresses
-- in the six regions of the test MaxMind DB (10.1-10.6.0.0/16 and
-- 2001:db8:1-6::/48, IPv4 and IPv6 alternating), optionally over the
-- exact-match locations /e0 .. /eN-1 and an X-Plan segment header, and
-- optionally pipelined.  Every request is built once in init(); request()
-- only picks the next one.
--
--   wrk ... -s servqual.lua -- [addrs=N] [endpoints=N] [segments=N]
--                              [depth=N] [close=1]
--
--   addrs=N      distinct client addresses (default 12: two per region)
--   endpoints=N  rotate the path over /e0 .. /e(N-1) (default 0: "/")
--   segments=N   add "X-Plan: p0" .. "p(N-1)" (default 0: no header)
--   depth=N      requests written back to back, pipelined (default 1)
--   close=1      "Connection: close": a new connection per request
--
-- done() prints one line that bench/overhead.pl reads:
--   RESULT requests=... duration_us=... errors=... p50_us=... p99_us=...

local opts = { addrs = 12, endpoints = 0, segments = 0, depth = 1, close = 0 }
local batches = {}
local nbatches = 0
local next_batch = 0


-- the same scheme as address_list() in bench/lib/Bench.pm
local function address(i)
    local region = 1 + math.floor(i / 2) % 6
    local host = math.floor(i / 12)

    if i % 2 == 0 then
        return string.format("10.%d.%d.%d", region,
                             math.floor(host / 250) % 250, 1 + host % 250)
    end

    return string.format("2001:db8:%x::%x:%x", region,
                         math.floor(host / 4096), 1 + host % 4096)
end


local function gcd(a, b)
    while b ~= 0 do
        a, b = b, a % b
    end
    return a
end


function init(args)
    for _, arg in ipairs(args) do
        local k, v = arg:match("^(%w+)=(%d+)$")
        if k == nil or opts[k] == nil then
            error("servqual.lua: bad argument \"" .. arg .. "\"")
        end
        opts[k] = tonumber(v)
    end

    local ne = math.max(opts.endpoints, 1)
    local ns = math.max(opts.segments, 1)
    local n = ne * opts.addrs * ns
    local reqs = {}

    -- every (endpoint, address, segment) once; the endpoint turns fastest
    for k = 0, n - 1 do
        local headers = {
            ["X-Forwarded-For"] = address(math.floor(k / ne) % opts.addrs)
        }
        local path = "/"

        if opts.endpoints > 0 then
            path = "/e" .. (k % ne)
        end

        if opts.segments > 0 then
            headers["X-Plan"] = "p" .. (math.floor(k / (ne * opts.addrs)) % ns)
        end

        if opts.close > 0 then
            headers["Connection"] = "close"
        end

        reqs[k] = wrk.format("GET", path, headers)
    end

    -- batches of depth requests that together cover every request:
    -- lcm(n, depth) / depth of them
    local d = opts.depth
    nbatches = n / gcd(n, d)

    for b = 0, nbatches - 1 do
        local parts = {}
        for j = 0, d - 1 do
            parts[#parts + 1] = reqs[(b * d + j) % n]
        end
        batches[b] = table.concat(parts)
    end
end


function request()
    local r = batches[next_batch]
    next_batch = (next_batch + 1) % nbatches
    return r
end


function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
        summary.requests, summary.duration,
        e.connect + e.read + e.write + e.status + e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
