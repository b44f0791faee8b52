-- wrk: POST conversions, each with fresh event_id / tracking_id (UUIDv4).
-- CT_PATH: the endpoint; CT_LINK_ID: a registered campaign link;
-- CT_BATCH: 0 for one conversion per request, N for {"events": [N conversions]}.
local path = os.getenv("CT_PATH") or "/api/conversions"
local link = os.getenv("CT_LINK_ID") or "00000000-0000-4000-8000-000000000000"
local batch = tonumber(os.getenv("CT_BATCH") or "0")

math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

local function uuid4()
  return (("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"):gsub("[xy]", function(c)
    return string.format("%x", c == "x" and math.random(0, 15) or math.random(8, 11))
  end))
end

local function conversion()
  return string.format(
    '{"event_id":"%s","tracking_id":"%s","campaign_link_id":"%s",' ..
    '"event_type":"purchase","revenue_amount":"19.99"}',
    uuid4(), uuid4(), link)
end

local headers = { ["Content-Type"] = "application/json" }

request = function()
  local body
  if batch > 0 then
    local events = {}
    for i = 1, batch do events[i] = conversion() end
    body = '{"events":[' .. table.concat(events, ",") .. ']}'
  else
    body = conversion()
  end
  return wrk.format("POST", path, headers, body)
end
