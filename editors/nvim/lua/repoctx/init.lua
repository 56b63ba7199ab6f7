-- repoctx for Neovim: starts `repoctx serve` with the built-in LSP client, one client per
-- repository, and adds :RepoctxContext, :RepoctxPack and :RepoctxMap.
--
-- Works on Neovim 0.7.2 (vim.lsp.start_client + buf_attach_client) and on current Neovim
-- (vim.lsp.start, client:request). See :help repoctx.

local M = {}

local uv = vim.uv or vim.loop
local HAS_011 = vim.fn.has("nvim-0.11") == 1 -- client methods are called with ':' from 0.11 on

M.defaults = {
  cmd = { "repoctx", "serve" }, -- the server command (a list; a string is split at spaces)
  budget = nil, -- token budget for context and pack: a number or "8k", "32k", "1m" (nil: the server's)
  map_budget = nil, -- token budget for :RepoctxMap (nil: the server's)
  format = nil, -- "xml" | "markdown" | "plain" (nil: the server's default)
  encoding = nil, -- token encoding or model name, e.g. "cl100k_base" (nil: the server's)
  include = nil, -- list of gitignore-style globs
  exclude = nil, -- list of gitignore-style globs
  line_numbers = false, -- ask for line numbers in :RepoctxContext output
  register = nil, -- register for results (nil: "+" when a clipboard is available, else '"')
  autostart = true, -- start/attach the server for buffers of `filetypes` inside a repository
  filetypes = {
    "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust",
    "java", "c", "cpp", "ruby", "php", "cs", "kotlin",
  }, -- {} means every filetype
  root_markers = { ".git" }, -- the nearest folder upward holding one of these is the workspace
  open = "vsplit", -- where results are shown: "vsplit" | "split" | "tab" | "current" | false (none)
  enter = false, -- move the cursor into the result window
  timeout = 60000, -- ms to wait for an answer (includes the server's start-up indexing)
  name = "repoctx", -- LSP client name
  on_attach = nil, -- function(client, bufnr) called when a buffer is attached
}

M.config = vim.deepcopy(M.defaults)
M.last = nil -- { kind, result, err, message } of the last finished request (for scripts/tests)
M._clients = {} -- root -> client id
M._exit = {} -- client id -> { code, signal }
M._bufs = {} -- kind -> scratch buffer
M._waiting = {} -- client id -> number of requests waiting for it
M._setup_done = false

-- helpers ------------------------------------------------------------------------------------

local function notify(msg, level)
  vim.notify("repoctx: " .. msg, level or vim.log.levels.INFO)
end

-- Errors are shown from the event loop, so that a failing command does not raise inside the
-- caller's vim.cmd() (scripts, mappings) but still shows its message.
local function err(msg)
  vim.schedule(function()
    notify(msg, vim.log.levels.ERROR)
  end)
end

-- Calls a client method in the style of the running Neovim: client:name(...) on 0.11+,
-- client.name(...) before.
local function ccall(client, name, ...)
  if HAS_011 then
    return client[name](client, ...)
  end
  return client[name](...)
end
M.ccall = ccall

--- A budget given as 8000, "8000", "8k", "1.5m" → integer, or nil (with an error for bad text).
function M.parse_budget(v)
  if v == nil or v == vim.NIL or v == "" then
    return nil
  end
  if type(v) == "number" then
    return math.floor(v)
  end
  local num, unit = tostring(v):lower():match("^%s*([%d%.]+)%s*([km]?)%s*$")
  local n = tonumber(num or "")
  if not n then
    error(("repoctx: bad budget %q (expected a number such as 8000, 8k or 1m)"):format(tostring(v)), 0)
  end
  if unit == "k" then
    n = n * 1000
  elseif unit == "m" then
    n = n * 1000000
  end
  return math.floor(n)
end

local function as_list(v)
  if v == nil then
    return nil
  end
  if type(v) == "string" then
    return { v }
  end
  return v
end

-- An empty Lua table would go out as a JSON array; LSP params and settings must be objects.
local function obj(t)
  if next(t) == nil then
    return vim.empty_dict()
  end
  return t
end

local function normalize_cmd(cmd)
  if type(cmd) == "string" then
    return vim.split(vim.trim(cmd), "%s+")
  end
  return cmd
end

--- The settings the server understands ({budget, encoding, format, include, exclude}).
function M.server_settings(cfg)
  cfg = cfg or M.config
  local s = {}
  s.budget = M.parse_budget(cfg.budget)
  s.encoding = cfg.encoding
  s.format = cfg.format
  s.include = as_list(cfg.include)
  s.exclude = as_list(cfg.exclude)
  return obj(s)
end

--- The register results go to.
function M.register()
  local r = M.config.register
  if r ~= nil and r ~= "" then
    return r
  end
  if vim.fn.has("clipboard") == 1 then
    return "+"
  end
  return '"'
end

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
  local markers = M.config.root_markers or { ".git" }
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
  local cfg = M.config
  local settings = M.server_settings(cfg)
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
  local fts = M.config.filetypes
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

local function finish(kind, result, e, cb)
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
-- exactly once (err a string), within the timeout.
local function request(kind, bufnr, method, params, cb, timeout)
  timeout = timeout or M.config.timeout
  local id, e = M.start(bufnr)
  if not id then
    return finish(kind, nil, e, cb)
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
    finish(kind, result, e2, cb)
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
    end, bufnr)
    if not ok or not sent then
      return complete(("could not send %s: %s"):format(method, tostring(ok and "client stopped" or sent)))
    end
    req_id = rid
  end

  -- A slow first answer is usually the server indexing the repository: say so once.
  vim.defer_fn(function()
    local c = live_client(id)
    if not done and c then
      notify(("waiting for the server (indexing %s)..."):format(c.config.root_dir or "?"))
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

local function fmt_int(n)
  local s = tostring(math.floor(tonumber(n) or 0))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local FILETYPE = { xml = "xml", markdown = "markdown", plain = "text", json = "json" }

local function guess_format(text, requested)
  if requested then
    return requested
  end
  if text:match("^%s*<") then
    return "xml"
  end
  if text:match("^%s*#") or text:match("```") then
    return "markdown"
  end
  return "plain"
end

--- Shows `text` in the scratch buffer repoctx://{kind} (reused), as the `open` option says.
function M.show(kind, text, fmt)
  local buf = M._bufs[kind]
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    M._bufs[kind] = buf
    pcall(vim.api.nvim_buf_set_name, buf, "repoctx://" .. kind)
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "hide"
    vim.bo[buf].swapfile = false
  end
  local lines = vim.split(text, "\n", { plain = true })
  if lines[#lines] == "" then
    table.remove(lines)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modified = false
  vim.bo[buf].filetype = FILETYPE[fmt] or "text"
  local how = M.config.open
  if not how then
    return buf
  end
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    local prev = vim.api.nvim_get_current_win()
    if how == "tab" then
      vim.cmd("tab split")
    elseif how == "split" then
      vim.cmd("belowright split")
    elseif how ~= "current" then
      vim.cmd("belowright vsplit")
    end
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, buf)
    if not M.config.enter and how ~= "current" and how ~= "tab" then
      vim.api.nvim_set_current_win(prev)
    end
  else
    pcall(vim.api.nvim_win_set_cursor, win, { 1, 0 })
    if M.config.enter then
      vim.api.nvim_set_current_win(win)
    end
  end
  return buf
end

-- Puts a result into the register and the scratch buffer, and says so.
local function deliver(kind, label, result, fmt, extra)
  local text = result.text or ""
  local reg = M.register()
  vim.fn.setreg(reg, text)
  M.show(kind, text, guess_format(text, fmt))
  local parts = {}
  if result.mode and result.mode ~= vim.NIL then
    table.insert(parts, result.mode)
  end
  if type(result.files) == "table" then
    table.insert(parts, #result.files .. (#result.files == 1 and " file" or " files"))
  end
  local msg = ("%s: %s/%s tokens (%s)%s -> register %s%s"):format(label, fmt_int(result.tokens),
    fmt_int(result.budget), tostring(result.encoding or "?"),
    #parts > 0 and (", " .. table.concat(parts, ", ")) or "", reg, extra or "")
  M.last.message = "repoctx: " .. msg
  notify(msg)
end

-- Converts a 0-based byte column of `line` into the client's offset encoding.
local function char_index(line, col, enc)
  col = math.max(0, math.min(col, #line))
  if enc == "utf-8" then
    return col
  end
  if HAS_011 then
    return vim.str_utfindex(line, enc or "utf-16", col, false)
  end
  local ok, u32, u16 = pcall(vim.str_utfindex, line, col)
  if not ok then
    return col
  end
  return enc == "utf-32" and u32 or u16
end

local function get_line(bufnr, lnum) -- 1-based
  return vim.api.nvim_buf_get_lines(bufnr, lnum - 1, lnum, false)[1] or ""
end

-- Parses "budget=8k format=markdown mode=slice rest of query" → options, query.
local function parse_args(fargs)
  local o, words = {}, {}
  for _, a in ipairs(fargs or {}) do
    local k, v = a:match("^(%a+)=(.+)$")
    if #words == 0 and k and (k == "budget" or k == "format" or k == "mode") then
      o[k] = v
    else
      table.insert(words, a)
    end
  end
  local q = table.concat(words, " ")
  return o, q ~= "" and q or nil
end

--- Context for the cursor or a range of the current buffer.
--- opts: { bufnr, line1, line2 (1-based, inclusive), range (an LSP Range), position (an LSP
--- Position), query, budget, format, line_numbers }. cb(err, result) is called when done; without
--- cb the result goes to the register and the scratch buffer.
function M.context(opts, cb)
  opts = opts or {}
  local bufnr = (opts.bufnr == nil or opts.bufnr == 0) and vim.api.nvim_get_current_buf() or opts.bufnr
  if not is_file_buffer(bufnr) then
    return finish("context", nil, "the current buffer is not a file", cb or function(e) err(e) end)
  end
  local okb, budget = pcall(M.parse_budget, opts.budget or M.config.budget)
  if not okb then
    return finish("context", nil, budget, cb or function(e) err(e) end)
  end
  local client = M.get_client(bufnr)
  local enc = client and client.offset_encoding or "utf-16"
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) } }
  if opts.range then
    params.range = opts.range
  elseif opts.line1 then
    local l1, l2 = opts.line1, opts.line2 or opts.line1
    local c1, c2 = 0, #get_line(bufnr, l2) -- whole lines
    if opts.charwise then
      c1 = opts.col1 or 0
      c2 = opts.col2 or c2
    end
    params.range = {
      start = { line = l1 - 1, character = char_index(get_line(bufnr, l1), c1, enc) },
      ["end"] = { line = l2 - 1, character = char_index(get_line(bufnr, l2), c2, enc) },
    }
  else
    local pos = opts.position
    if not pos then
      local win = vim.fn.bufwinid(bufnr)
      local cur = vim.api.nvim_win_get_cursor(win ~= -1 and win or 0)
      pos = { line = cur[1] - 1, character = char_index(get_line(bufnr, cur[1]), cur[2], enc) }
    end
    params.position = pos
  end
  params.query = opts.query
  params.budget = budget
  params.format = opts.format or M.config.format
  if opts.line_numbers ~= nil then
    params.lineNumbers = opts.line_numbers
  elseif M.config.line_numbers then
    params.lineNumbers = true
  end
  request("context", bufnr, "repoctx/context", params, function(e, result)
    if cb then
      return cb(e, result)
    end
    if e then
      return err("context: " .. e)
    end
    deliver("context", "context", result, params.format)
  end, opts.timeout)
end

--- The whole-workspace pack. opts: { query, budget, format, mode, file (write it there too) }.
function M.pack(opts, cb)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local okb, budget = pcall(M.parse_budget, opts.budget or M.config.budget)
  if not okb then
    return finish("pack", nil, budget, cb or function(e) err(e) end)
  end
  local params = { query = opts.query, budget = budget, format = opts.format or M.config.format, mode = opts.mode }
  if opts.line_numbers ~= nil then
    params.lineNumbers = opts.line_numbers
  elseif M.config.line_numbers then
    params.lineNumbers = true
  end
  request("pack", bufnr, "repoctx/pack", obj(params), function(e, result)
    if cb then
      return cb(e, result)
    end
    if e then
      return err("pack: " .. e)
    end
    local extra = ""
    if opts.file then
      local path = vim.fn.fnamemodify(vim.fn.expand(opts.file), ":p")
      local f, ferr = io.open(path, "wb")
      if not f then
        err("pack: cannot write " .. path .. ": " .. tostring(ferr))
      else
        f:write(result.text or "")
        f:close()
        extra = ", written to " .. path
      end
    end
    deliver("pack", "pack", result, params.format, extra)
  end, opts.timeout)
end

--- The signatures-only map, focused on the current file. opts: { budget }.
function M.map(opts, cb)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local okb, budget = pcall(M.parse_budget, opts.budget or M.config.map_budget)
  if not okb then
    return finish("map", nil, budget, cb or function(e) err(e) end)
  end
  local params = { budget = budget }
  local root = M.root(bufnr, true)
  local path = buf_path(bufnr)
  if is_file_buffer(bufnr) and root and under(path, root) then
    params.focus = vim.uri_from_bufnr(bufnr)
  end
  request("map", bufnr, "repoctx/map", obj(params), function(e, result)
    if cb then
      return cb(e, result)
    end
    if e then
      return err("map: " .. e)
    end
    deliver("map", "map", result, "plain")
  end, opts.timeout)
end

--- Changes settings at run time and tells running servers (workspace/didChangeConfiguration).
function M.configure(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
  local settings = M.server_settings()
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

-- commands -----------------------------------------------------------------------------------

local function context_command(o)
  local args, query = parse_args(o.fargs)
  local opts = { query = query, budget = args.budget, format = args.format }
  if o.range and o.range > 0 then
    opts.line1, opts.line2 = o.line1, o.line2
    -- From charwise visual mode (:'<,'>), use the exact columns of the selection.
    local vs, ve = vim.fn.getpos("'<"), vim.fn.getpos("'>")
    if o.range == 2 and vim.fn.visualmode() == "v" and vs[2] == o.line1 and ve[2] == o.line2 then
      local last = get_line(0, o.line2)
      local c2 = math.min(ve[3], #last) -- 1-based byte of the last selected character's start
      local char = last:sub(c2):match("^[%z\1-\127\194-\244][\128-\191]*") or ""
      opts.charwise, opts.col1, opts.col2 = true, vs[3] - 1, c2 - 1 + #char
    end
  end
  M.context(opts)
end

local function pack_command(o)
  local fargs = vim.deepcopy(o.fargs)
  local file
  if o.bang then
    file = table.remove(fargs, 1)
    if not file then
      return err("usage: :RepoctxPack! {file} [query]")
    end
  end
  local args, query = parse_args(fargs)
  M.pack({ query = query, budget = args.budget, format = args.format, mode = args.mode, file = file })
end

local function map_command(o)
  local args = parse_args(o.fargs)
  M.map({ budget = args.budget })
end

local function define_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd("RepoctxContext", context_command, {
    nargs = "*", range = true, desc = "repoctx: dependency-closed context for the cursor or the range",
  })
  cmd("RepoctxPack", pack_command, { nargs = "*", bang = true, desc = "repoctx: pack the repository" })
  cmd("RepoctxMap", map_command, { nargs = "*", desc = "repoctx: the repository map" })
  cmd("RepoctxStop", function()
    M.stop()
  end, { desc = "repoctx: stop the language servers" })
end

--- Configures the plugin, defines the commands and (with autostart) attaches matching buffers.
function M.setup(opts)
  opts = opts or {}
  if opts.cmd ~= nil and type(opts.cmd) ~= "table" and type(opts.cmd) ~= "string" then
    error("repoctx: setup: `cmd` must be a list of strings", 0)
  end
  if opts.register ~= nil and (type(opts.register) ~= "string" or #opts.register ~= 1) then
    error("repoctx: setup: `register` must be one register name, e.g. \"a\" or \"+\"", 0)
  end
  if opts.format ~= nil and not ({ xml = true, markdown = true, plain = true })[opts.format] then
    error("repoctx: setup: `format` must be \"xml\", \"markdown\" or \"plain\"", 0)
  end
  M.parse_budget(opts.budget)
  M.parse_budget(opts.map_budget)
  local cfg = vim.tbl_extend("force", vim.deepcopy(M.defaults), opts) -- lists are replaced, not merged
  cfg.cmd = normalize_cmd(cfg.cmd)
  M.config = cfg
  define_commands()

  local group = vim.api.nvim_create_augroup("repoctx", { clear = true })
  if cfg.autostart then
    local fts = cfg.filetypes
    vim.api.nvim_create_autocmd("FileType", {
      group = group,
      pattern = (fts and #fts > 0) and fts or "*",
      callback = function(a)
        M.autoattach(a.buf)
      end,
    })
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) then
        M.autoattach(b)
      end
    end
  end
  M._setup_done = true
  return M
end

return M
