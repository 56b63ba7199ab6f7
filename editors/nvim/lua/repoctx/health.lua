-- :checkhealth repoctx — is the server found, and does it answer?
local M = {}

local health = vim.health or require("health") -- 0.7 has only require("health") with report_*
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error_ = health.error or health.report_error
local info = health.info or health.report_info

local ccall = require("repoctx.client").ccall

local function version_cmd(cmd)
  -- {"repoctx", "serve"} -> {"repoctx", "--version"}; {py, "-m", "repoctx", "serve"} -> {py, "-m", "repoctx", "--version"}
  local out = {}
  for _, a in ipairs(cmd) do
    if a == "serve" then
      table.insert(out, "--version")
      return out
    end
    table.insert(out, a)
  end
  return nil
end

-- A repoctx/map round trip through `client`; returns true or false and a message.
local function round_trip(client, timeout)
  local t0 = vim.loop.hrtime()
  local okc, res, e = pcall(ccall, client, "request_sync", "repoctx/map", { budget = 200 }, timeout)
  local ms = (vim.loop.hrtime() - t0) / 1e6
  if not okc then
    return false, tostring(res)
  end
  if not res then
    return false, ("no answer to repoctx/map within %d ms (%s)"):format(timeout, tostring(e))
  end
  if res.err then
    return false, "repoctx/map failed: " .. (res.err.message or vim.inspect(res.err))
  end
  local r = res.result or {}
  return true, ("repoctx/map answered in %.0f ms: %s/%s tokens (%s)"):format(ms, tostring(r.tokens),
    tostring(r.budget), tostring(r.encoding))
end

function M.check()
  local rc = require("repoctx")
  local cfg = rc.config
  local timeout = math.max(cfg.timeout or 60000, 1000)

  start("repoctx: Neovim")
  local v = vim.version()
  local vs = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
  if vim.lsp.start then
    ok(("Neovim %s: vim.lsp.start available"):format(vs))
  else
    ok(("Neovim %s: using vim.lsp.start_client + vim.lsp.buf_attach_client"):format(vs))
  end
  if not rc._setup_done then
    warn("require('repoctx').setup() has not been called: no commands, no autostart; checking with the defaults")
  end
  info("register for results: " .. rc.register() .. "; :RepoctxApply reads " .. require("repoctx.config").apply_register())

  start("repoctx: server command")
  local cmd = cfg.cmd
  if type(cmd) == "string" then
    cmd = vim.split(vim.trim(cmd), "%s+")
  end
  info("cmd = " .. vim.inspect(cmd))
  local exe = cmd and cmd[1]
  if not exe or vim.fn.executable(exe) ~= 1 then
    error_(("server command not found: %s"):format(tostring(exe)), {
      "Install repoctx (pip install repoctx) so that `repoctx` is on $PATH,",
      "or pass the command: require('repoctx').setup({ cmd = { '/path/to/python', '-m', 'repoctx', 'serve' } })",
    })
    return
  end
  ok("found " .. vim.fn.exepath(exe))
  local vcmd = version_cmd(cmd)
  if vcmd then
    local out = vim.trim(vim.fn.system(vcmd))
    if vim.v.shell_error == 0 and out ~= "" then
      ok("version: " .. out)
    else
      warn(("`%s` failed (exit %d): %s"):format(table.concat(vcmd, " "), vim.v.shell_error, out))
    end
  end

  start("repoctx: language server")
  local clients = rc.clients()
  for _, c in ipairs(clients) do
    info(("client %d attached for %s%s"):format(c.id, tostring(c.config.root_dir),
      c.initialized and "" or " (still starting)"))
  end
  local client
  for _, c in ipairs(clients) do
    if c.initialized then
      client = c
      break
    end
  end
  if client then
    local good, msg = round_trip(client, timeout)
    if good then ok(msg) else error_(msg) end
    return
  end

  -- No running client: start one for the current folder's repository, ask for a small map, stop it.
  local root = rc.find_root(vim.fn.getcwd()) or vim.fn.getcwd()
  info("no running client; starting a temporary one for " .. root)
  local before = rc._clients[root]
  local id, e = rc.start(vim.api.nvim_get_current_buf(), root)
  if not id then
    error_(e)
    return
  end
  local temporary = before ~= id
  local c = vim.lsp.get_client_by_id(id)
  local ready = vim.wait(timeout, function()
    local cc = vim.lsp.get_client_by_id(id)
    return cc == nil or cc.initialized == true
  end, 50)
  c = vim.lsp.get_client_by_id(id)
  if not c then
    local ex = rc._exit[id]
    error_(("the server exited%s during start-up"):format(ex and (" with code " .. tostring(ex.code)) or ""),
      { "Run the command in a terminal to see its error: " .. table.concat(cmd, " ") })
  elseif not ready or not c.initialized then
    error_(("the server did not initialize within %d ms"):format(timeout))
  else
    ok("the server started and initialized")
    local good, msg = round_trip(c, timeout)
    if good then ok(msg) else error_(msg) end
  end
  if temporary and c then
    rc._stopping = true
    pcall(ccall, c, "stop")
    rc._clients[root] = nil
    vim.defer_fn(function() rc._stopping = false end, 3000)
  end
end

return M
