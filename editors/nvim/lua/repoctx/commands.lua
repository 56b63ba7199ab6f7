-- The requests behind the user commands (context, pack, map), the commands themselves and their
-- argument parsing ("budget=8k format=markdown mode=slice rest of query").

local config = require("repoctx.config")
local client = require("repoctx.client")
local ui = require("repoctx.ui")

local M = {}

local HAS_011 = client.HAS_011
local err, obj, request, finish = ui.err, config.obj, client.request, client.finish
local is_file_buffer, buf_path, under = client.is_file_buffer, client.buf_path, client.under

-- Puts a result into the register and the scratch buffer; client.last holds the message.
local function deliver(kind, result, fmt, extra)
  client.last.message = ui.deliver(kind, result, fmt, extra)
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
  local okb, budget = pcall(config.parse_budget, opts.budget or config.options.budget)
  if not okb then
    return finish("context", nil, budget, cb or function(e) err(e) end)
  end
  local c = client.get_client(bufnr)
  local enc = c and c.offset_encoding or "utf-16"
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
  params.format = opts.format or config.options.format
  if opts.line_numbers ~= nil then
    params.lineNumbers = opts.line_numbers
  elseif config.options.line_numbers then
    params.lineNumbers = true
  end
  request("context", bufnr, "repoctx/context", params, function(e, result)
    if cb then
      return cb(e, result)
    end
    if e then
      return err("context: " .. e)
    end
    deliver("context", result, params.format)
  end, opts.timeout)
end

--- The whole-workspace pack. opts: { query, budget, format, mode, file (write it there too) }.
function M.pack(opts, cb)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local okb, budget = pcall(config.parse_budget, opts.budget or config.options.budget)
  if not okb then
    return finish("pack", nil, budget, cb or function(e) err(e) end)
  end
  local params = { query = opts.query, budget = budget, format = opts.format or config.options.format, mode = opts.mode }
  if opts.line_numbers ~= nil then
    params.lineNumbers = opts.line_numbers
  elseif config.options.line_numbers then
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
    deliver("pack", result, params.format, extra)
  end, opts.timeout)
end

--- The signatures-only map, focused on the current file. opts: { budget }.
function M.map(opts, cb)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local okb, budget = pcall(config.parse_budget, opts.budget or config.options.map_budget)
  if not okb then
    return finish("map", nil, budget, cb or function(e) err(e) end)
  end
  local params = { budget = budget }
  local root = client.root(bufnr, true)
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
    deliver("map", result, "plain")
  end, opts.timeout)
end

--- Applies a model's edit (unified diff, SEARCH/REPLACE blocks or *** Begin Patch) through the
--- server: placed against the buffers as they are (unsaved changes included), then applied by the
--- server's workspace/applyEdit, so it lands in the buffers and their undo history (not saved).
--- opts: { text, register, bufnr, line1, line2 (take the lines of bufnr) }. Refused hunks go to the
--- quickfix list (nothing is applied then); cb(err, result) is called when done.
function M.apply(opts, cb)
  opts = opts or {}
  local bufnr = (opts.bufnr == nil or opts.bufnr == 0) and vim.api.nvim_get_current_buf() or opts.bufnr
  local text, source = opts.text, "the text given"
  if not text and opts.line1 then
    text = table.concat(vim.api.nvim_buf_get_lines(bufnr, opts.line1 - 1, opts.line2 or opts.line1, false), "\n")
    source = ("lines %d-%d of the buffer"):format(opts.line1, opts.line2 or opts.line1)
  elseif not text then
    local reg = opts.register or config.apply_register()
    text, source = vim.fn.getreg(reg), "register " .. reg
  end
  if type(text) ~= "string" or not text:match("%S") then
    return finish("apply", nil, source .. " is empty: nothing to apply", cb or function(e) err(e) end)
  end
  local id, root = client.start(bufnr), client.root(bufnr, true)
  if id then -- every loaded file of the workspace is the base as it is in its buffer, saved or not
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and is_file_buffer(b) and under(buf_path(b), root) then
        vim.lsp.buf_attach_client(b, id)
      end
    end
  end
  request("apply", bufnr, "repoctx/applyEdit", { text = text, dryRun = false }, function(e, result)
    if not e then
      client.last.message = M.report_apply(result, root)
    end
    if cb then
      return cb(e, result)
    end
    if e then
      return err("apply: " .. e)
    end
  end, opts.timeout, true)
end

-- Text edits into an empty buffer leave the empty line it had after the new text ("a\nb\n" becomes
-- "a", "b", ""), which would be written as an extra blank line: it goes, in the same undo step.
local function drop_extra_last_line(fname)
  local b = vim.fn.bufnr(fname)
  if b == -1 or not vim.api.nvim_buf_is_loaded(b) then
    return
  end
  local n = vim.api.nvim_buf_line_count(b)
  if n > 1 and vim.api.nvim_buf_get_lines(b, n - 1, n, false)[1] == "" then
    vim.api.nvim_buf_call(b, function()
      pcall(vim.cmd, "undojoin")
      vim.api.nvim_buf_set_lines(b, n - 1, n, false, {})
    end)
  end
end

--- Puts the refused hunks of an applyEdit result in the quickfix list, says what happened; returns
--- the message.
function M.report_apply(result, root)
  local hunks = type(result.hunks) == "table" and result.hunks or {}
  local items, placed, files, how = {}, 0, {}, {}
  for _, h in ipairs(hunks) do
    local fname = (type(h.uri) == "string" and vim.uri_to_fname(h.uri)) or (root .. "/" .. tostring(h.path))
    if h.applied then
      if h.relaxation == "new file" and result.applied then
        drop_extra_last_line(fname)
      end
      placed = placed + 1
      files[fname] = true
      how[h.relaxation] = (how[h.relaxation] or 0) + 1
    else
      local cands = type(h.candidates) == "table" and h.candidates or {}
      local first = cands[1]
      local text = ("hunk %d refused: %s"):format(h.index or 0, tostring(h.reason))
      if first then
        text = text .. (" | closest (similarity %.2f): %s"):format(first.similarity or 0, vim.trim(first.text or ""))
      end
      table.insert(items, { filename = fname, lnum = first and first.line or 1, text = text, type = "E" })
      for k = 2, #cands do
        local c = cands[k]
        table.insert(items, { filename = fname, lnum = c.line or 1, type = "I",
          text = ("hunk %d: also close (similarity %.2f): %s"):format(h.index or 0, c.similarity or 0, vim.trim(c.text or "")) })
      end
    end
  end
  local msg
  if #items > 0 then
    vim.fn.setqflist({}, " ", { title = "repoctx: refused hunks", items = items })
    msg = ("apply: %d of %d hunks refused, nothing applied (see the quickfix list)"):format(#hunks - placed, #hunks)
    ui.notify(msg, vim.log.levels.WARN)
  elseif result.applied == false then
    msg = "apply: the editor did not apply the edit (see :messages)"
    ui.notify(msg, vim.log.levels.ERROR)
  else
    local parts = {}
    for k, n in pairs(how) do
      table.insert(parts, ("%s %d"):format(tostring(k), n))
    end
    table.sort(parts)
    local nf = vim.tbl_count(files)
    msg = ("apply: %d %s applied to %d %s (%s); not saved yet (:wa)"):format(placed, placed == 1 and "hunk" or "hunks",
      nf, nf == 1 and "file" or "files", table.concat(parts, ", "))
    ui.notify(msg)
  end
  return "repoctx: " .. msg
end

-- user commands ---------------------------------------------------------------------------

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

-- :RepoctxApply [x] (register x), :RepoctxApply % (the buffer), :{range}RepoctxApply (those lines).
local function apply_command(o)
  local arg = o.fargs[1]
  if arg == "" then -- 0.7 passes { "" } for no argument
    arg = nil
  end
  if arg == "%" then
    return M.apply({ line1 = 1, line2 = vim.api.nvim_buf_line_count(0) })
  elseif arg and #arg ~= 1 then
    return finish("apply", nil, "usage: :RepoctxApply [register] | :RepoctxApply % | :{range}RepoctxApply",
      function(e) err(e) end)
  elseif arg then
    return M.apply({ register = arg })
  elseif o.range and o.range > 0 then
    return M.apply({ line1 = o.line1, line2 = o.line2 })
  end
  M.apply({})
end

--- Defines :RepoctxContext, :RepoctxPack, :RepoctxMap, :RepoctxApply and :RepoctxStop.
function M.define()
  local cmd = vim.api.nvim_create_user_command
  cmd("RepoctxContext", context_command, {
    nargs = "*", range = true, desc = "repoctx: dependency-closed context for the cursor or the range",
  })
  cmd("RepoctxPack", pack_command, { nargs = "*", bang = true, desc = "repoctx: pack the repository" })
  cmd("RepoctxMap", map_command, { nargs = "*", desc = "repoctx: the repository map" })
  cmd("RepoctxApply", apply_command, {
    nargs = "?", range = true, desc = "repoctx: apply a model's edit from a register, the buffer (%) or a range",
  })
  cmd("RepoctxStop", function()
    client.stop()
  end, { desc = "repoctx: stop the language servers" })
end

return M
