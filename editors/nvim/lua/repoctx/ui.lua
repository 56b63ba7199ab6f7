-- Messages and the repoctx://{kind} scratch buffers results are shown in.

local config = require("repoctx.config")

local M = {}

M._bufs = {} -- kind -> scratch buffer

function M.notify(msg, level)
  msg = tostring(msg):gsub("^repoctx: ", "") -- errors raised for setup() name the plugin already
  vim.notify("repoctx: " .. msg, level or vim.log.levels.INFO)
end

-- Errors are shown from the event loop, so that a failing command does not raise inside the
-- caller's vim.cmd() (scripts, mappings) but still shows its message.
function M.err(msg)
  vim.schedule(function()
    M.notify(msg, vim.log.levels.ERROR)
  end)
end

function M.fmt_int(n)
  local s = tostring(math.floor(tonumber(n) or 0))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local FILETYPE = { xml = "xml", markdown = "markdown", plain = "text", json = "json" }

function M.guess_format(text, requested)
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
  local opts = config.options
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
  local how = opts.open
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
    if not opts.enter and how ~= "current" and how ~= "tab" then
      vim.api.nvim_set_current_win(prev)
    end
  else
    pcall(vim.api.nvim_win_set_cursor, win, { 1, 0 })
    if opts.enter then
      vim.api.nvim_set_current_win(win)
    end
  end
  return buf
end

--- Puts a result into the register and the scratch buffer and says so; returns the message.
function M.deliver(kind, result, fmt, extra)
  local text = result.text or ""
  local reg = config.register()
  vim.fn.setreg(reg, text)
  M.show(kind, text, M.guess_format(text, fmt))
  local parts = {}
  if result.mode and result.mode ~= vim.NIL then
    table.insert(parts, result.mode)
  end
  if type(result.files) == "table" then
    table.insert(parts, #result.files .. (#result.files == 1 and " file" or " files"))
  end
  local msg = ("%s: %s/%s tokens (%s)%s -> register %s%s"):format(kind, M.fmt_int(result.tokens),
    M.fmt_int(result.budget), tostring(result.encoding or "?"),
    #parts > 0 and (", " .. table.concat(parts, ", ")) or "", reg, extra or "")
  M.notify(msg)
  return "repoctx: " .. msg
end

return M
