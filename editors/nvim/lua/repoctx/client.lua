-- The language-server client: finding a buffer's workspace root, starting (or reusing) one
-- `repoctx serve` per root, and sending requests with a timeout.
--
-- Works on Neovim 0.7.2 (vim.lsp.start_client + buf_attach_client) and on current Neovim
-- (vim.lsp.start, client:request).

local config = require("repoctx.config")
local ui = require("repoctx.ui")

local M = {}

local uv = vim.uv or vim.loop
M.HAS_011 = vim.fn.has("nvim-0.11") == 1 -- client methods are called with ':' from 0.11 on
local HAS_011 = M.HAS_011
local err = ui.err
local normalize_cmd = config.normalize_cmd

M.last = nil -- { kind, result, err, message } of the last finished request (for scripts/tests)
M._clients = {} -- root -> client id
M._exit = {} -- client id -> { code, signal }
M._waiting = {} -- client id -> number of requests waiting for it

-- Calls a client method in the style of the running Neovim: client:name(...) on 0.11+,
-- client.name(...) before.
local function ccall(client, name, ...)
  if HAS_011 then
    return client[name](client, ...)
  end
  return client[name](...)
end
M.ccall = ccall

local function buf_path(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" then
    return nil
  end
  return vim.fn.fnamemodify(name, ":p")
end

local function is_file_buffer(bufnr)
  return vim.api.nvim_buf_is_valid(bufnr) and vim.bo[bufnr].buftype == "" and buf_path(bufnr) ~= nil
end

local function strip_slash(dir)
  if #dir > 1 then
    dir = dir:gsub("/+$", "")
  end
  return dir
end

--- The nearest folder upward from `path` (a file or folder) that holds a root marker, or nil.
function M.find_root(path)
  local markers = config.options.root_markers or { ".git" }
  local dir = strip_slash(vim.fn.fnamemodify(path, ":p"))
  if vim.fn.isdirectory(dir) == 0 then
    dir = vim.fn.fnamemodify(dir, ":h")
  end
  while dir and dir ~= "" do
    for _, m in ipairs(markers) do
      if uv.fs_stat(dir .. "/" .. m) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      break
    end
    dir = parent
  end
  return nil
end

local function under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/" or dir == "/"
end

--- The workspace root for a buffer: the nearest root marker upward; with `fallback`, the
--- current folder (when the file lies inside it) or else the file's folder.
function M.root(bufnr, fallback)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local path = buf_path(bufnr)
  local root = M.find_root(path or vim.fn.getcwd())
  if root or not fallback then
    return root
  end
  local cwd = strip_slash(vim.fn.getcwd())
  if path == nil or under(path, cwd) then
    return cwd
  end
  return vim.fn.fnamemodify(path, ":h")
end

local function live_client(id)
  local client = id and vim.lsp.get_client_by_id(id)
  if not client then
    return nil
  end
  local ok, stopped = pcall(ccall, client, "is_stopped")
  if ok and stopped then
    return nil
  end
  return client
end

--- All running repoctx clients.
function M.clients()
  local out = {}
  for _, id in pairs(M._clients) do
    local c = live_client(id)
    if c then
      table.insert(out, c)
    end
  end
  table.sort(out, function(a, b)
    return a.id < b.id
  end)
  return out
end

--- The running client for a buffer's root (nil when none).
function M.get_client(bufnr)
  local root = M.root(bufnr, true)
  return root and live_client(M._clients[root]), root
end

local function client_config(root)
  local cfg = config.options
  local settings = config.server_settings(cfg)
  return {
    name = cfg.name,
    cmd = normalize_cmd(cfg.cmd),
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = settings,
    settings = { repoctx = settings },
    on_attach = function(client, bufnr)
      if type(cfg.on_attach) == "function" then
        cfg.on_attach(client, bufnr)
      end
    end,
    on_exit = function(code, signal, client_id)
      M._exit[client_id] = { code = code, signal = signal }
      for r, id in pairs(M._clients) do
        if id == client_id then
          M._clients[r] = nil
        end
      end
      -- A waiting request reports the exit itself.
      if code ~= 0 and not M._stopping and (M._waiting[client_id] or 0) == 0 then
        vim.schedule(function()
          err(("the server for %s exited with code %s (cmd: %s); see :checkhealth repoctx")
            :format(root, tostring(code), table.concat(normalize_cmd(cfg.cmd), " ")))
        end)
      end
    end,
  }
end

--- Starts (or reuses) the client for `root` and attaches `bufnr` to it when it is a file buffer.
--- Returns the client id, or nil and an error message.
function M.start(bufnr, root)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  root = root or M.root(bufnr, true)
  local attach = is_file_buffer(bufnr) and under(buf_path(bufnr), root)
  local id = M._clients[root]
  if live_client(id) then
    if attach then
      vim.lsp.buf_attach_client(bufnr, id)
    end
    return id
  end
  local conf = client_config(root)
  local exe = conf.cmd and conf.cmd[1]
  if not exe or vim.fn.executable(exe) ~= 1 then
    return nil, ("server command not found: %s (set `cmd` in require('repoctx').setup(); see :checkhealth repoctx)")
      :format(tostring(exe))
  end
  local ok, res
  if vim.lsp.start and attach then
    ok, res = pcall(vim.lsp.start, conf, {
      bufnr = bufnr,
      reuse_client = function(client, c) -- never one that is shutting down
        return client.name == c.name and client.config.root_dir == c.root_dir and live_client(client.id) ~= nil
      end,
    })
  elseif vim.lsp.start and HAS_011 then
    ok, res = pcall(vim.lsp.start, conf, { attach = false, reuse_client = function() return false end })
  else
    ok, res = pcall(vim.lsp.start_client, conf)
    if ok and res and attach then
      vim.lsp.buf_attach_client(bufnr, res)
    end
  end
  if not ok or not res then
    return nil, ("could not start the server (%s): %s"):format(table.concat(conf.cmd, " "), tostring(res))
  end
  M._clients[root] = res
  return res
end

--- Attaches a buffer when autostart applies to it (a file of a listed filetype inside a repository).
function M.autoattach(bufnr)
  if not is_file_buffer(bufnr) then
    return
  end
  local fts = config.options.filetypes
  if fts and #fts > 0 and not vim.tbl_contains(fts, vim.bo[bufnr].filetype) then
    return
  end
  local root = M.root(bufnr, false)
  if not root then
    return
  end
  local id, e = M.start(bufnr, root)
  if not id and not M._warned then
    M._warned = true
    err(e)
  end
end

-- requests -----------------------------------------------------------------------------------

function M.finish(kind, result, e, cb)
  M.last = { kind = kind, result = result, err = e }
  if cb then
    local ok, cb_err = pcall(cb, e, result)
    if not ok then
      err(tostring(cb_err))
    end
  end
  pcall(vim.cmd, "doautocmd <nomodeline> User RepoctxDone")
end

-- Sends `method` to the client of `bufnr`'s root once it is initialized; calls cb(err, result)
-- exactly once (err a string), within the timeout. With `flush_all`, the pending changes of every
-- attached buffer are sent first (not only `bufnr`'s).
function M.request(kind, bufnr, method, params, cb, timeout, flush_all)
  timeout = timeout or config.options.timeout
  local id, e = M.start(bufnr)
  if not id then
    return M.finish(kind, nil, e, cb)
  end
  local done = false
  local timer = uv.new_timer()
  local req_id, client
  M._waiting[id] = (M._waiting[id] or 0) + 1
  local function complete(e2, result)
    if done then
      return
    end
    done = true
    M._waiting[id] = math.max((M._waiting[id] or 1) - 1, 0)
    timer:stop()
    if not timer:is_closing() then
      timer:close()
    end
    M.finish(kind, result, e2, cb)
  end
  timer:start(timeout, 0, vim.schedule_wrap(function()
    if done then
      return
    end
    if client and req_id then
      pcall(ccall, client, "cancel_request", req_id)
    end
    local c = live_client(id)
    local what = (c and c.initialized) and "no answer to " .. method or "the server did not finish starting"
    complete(("%s within %d ms (raise `timeout` in setup(); see :checkhealth repoctx)"):format(what, timeout))
  end))

  local function send(c, via_command)
    client = c
    local m, p = method, params
    if via_command then
      m, p = "workspace/executeCommand", { command = method:gsub("/", "."), arguments = { params } }
    end
    local ok, sent, rid = pcall(ccall, c, "request", m, p, function(rerr, result)
      vim.schedule(function()
        if rerr then
          if rerr.code == -32601 and not via_command then -- MethodNotFound: try the command form
            return send(c, true)
          end
          local msg = type(rerr) == "table" and (rerr.message or vim.inspect(rerr)) or tostring(rerr)
          return complete(("%s failed: %s%s"):format(method, msg,
            type(rerr) == "table" and rerr.code and (" (code " .. rerr.code .. ")") or ""))
        end
        if type(result) ~= "table" then
          return complete(method .. ": the server returned no result")
        end
        complete(nil, result)
      end)
    end, (not flush_all) and bufnr or nil)
    if not ok or not sent then
      return complete(("could not send %s: %s"):format(method, tostring(ok and "client stopped" or sent)))
    end
    req_id = rid
  end

  -- A slow first answer is usually the server indexing the repository: say so once.
  vim.defer_fn(function()
    local c = live_client(id)
    if not done and c then
      ui.notify(("waiting for the server (indexing %s)..."):format(c.config.root_dir or "?"))
    end
  end, 1500)
  local function when_ready()
    if done then
      return
    end
    local c = live_client(id)
    if not c then
      local ex = M._exit[id]
      return complete(("the server exited%s before answering; check `cmd` and :checkhealth repoctx")
        :format(ex and (" with code " .. tostring(ex.code)) or ""))
    end
    if c.initialized then
      return send(c)
    end
    vim.defer_fn(when_ready, 50)
  end
  when_ready()
end

--- Tells running servers about changed settings (workspace/didChangeConfiguration).
function M.send_settings(settings)
  for _, c in ipairs(M.clients()) do
    c.config.settings = { repoctx = settings }
    pcall(ccall, c, "notify", "workspace/didChangeConfiguration", { settings = { repoctx = settings } })
  end
end

--- Stops every repoctx client.
function M.stop()
  M._stopping = true
  for _, c in ipairs(M.clients()) do
    pcall(ccall, c, "stop")
  end
  M._clients = {}
  vim.defer_fn(function()
    M._stopping = false
  end, 3000)
end

M.buf_path, M.is_file_buffer, M.under = buf_path, is_file_buffer, under

return M
