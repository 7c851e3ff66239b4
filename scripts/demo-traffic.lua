-- Demo traffic for `make run`, a wrk script: customers from six countries
-- (through X-Forwarded-For, which the demo nginx trusts from 127.0.0.1),
-- IPv4 and IPv6, browsing, searching and checking out, on three plans.
-- The addresses are those of the demo MaxMind DB (scripts/make-mmdb).

local countries = {
    -- IPv4 /16, IPv6 /48, weight
    { "10.1", "2001:db8:1", 30 },   -- US
    { "10.2", "2001:db8:2", 15 },   -- BR, served badly by the demo app
    { "10.3", "2001:db8:3", 20 },   -- DE
    { "10.4", "2001:db8:4", 15 },   -- JP
    { "10.5", "2001:db8:5", 10 },   -- AU
    { "10.6", "2001:db8:6", 10 },   -- ZA
}

local pages = {
    { "/", 45 },
    { "/api/search?q=shoes", 20 },
    { "/api/search?q=socks", 15 },
    { "/checkout", 20 },
}

local plans = { { "free", 70 }, { "pro", 25 }, { "enterprise", 5 } }

local function pick(list, weight)
    local total = 0
    for _, v in ipairs(list) do total = total + v[weight] end
    local r = math.random() * total
    for _, v in ipairs(list) do
        r = r - v[weight]
        if r <= 0 then return v end
    end
    return list[#list]
end

function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end

function request()
    local c = pick(countries, 3)
    local ip

    if math.random() < 0.25 then
        ip = string.format("%s::%x", c[2], math.random(1, 65535))
    else
        ip = string.format("%s.%d.%d", c[1], math.random(0, 255),
                           math.random(1, 254))
    end

    return wrk.format("GET", pick(pages, 2)[1], {
        ["X-Forwarded-For"] = ip,
        ["Cookie"] = "plan=" .. pick(plans, 2)[1],
        ["Accept-Encoding"] = "gzip",
    })
end

-- about ten requests a second per connection, when the shop is fast
function delay()
    return math.random(50, 150)
end
