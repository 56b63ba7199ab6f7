-- Options: the defaults, their validation, the one budget parser and the settings sent to the
-- server. The budget rule is the CLI's (repoctx/settings.py parse_count).

local M = {}

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

M.options = vim.deepcopy(M.defaults) -- the options in force (require("repoctx").config)

-- The largest count a Lua number (a double) holds exactly; the server gets it as a JSON integer.
M.MAX_COUNT = 2 ^ 53 - 1

local function bad_budget(v, why)
  error(("repoctx: bad budget %s: %s (expected a positive whole token count such as 8000, \"8k\" or \"1.5m\")")
    :format(vim.inspect(v), why), 0)
end

--- A token budget as the CLI accepts it → integer; nil/vim.NIL → nil (the server's default).
--- Text: digits (with `_` between groups), an optional fraction and an optional k (1,000) or m
--- (1,000,000) suffix, any case; the value must be whole and positive ("1.5m" yes, "1.2345k",
--- "0", "1.5" no). Anything else raises an error that names the value.
function M.parse_budget(v)
  if v == nil or v == vim.NIL then
    return nil
  end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge or v ~= math.floor(v) then
      bad_budget(v, "not a whole number")
    elseif v <= 0 then
      bad_budget(v, "must be positive")
    elseif v > M.MAX_COUNT then
      bad_budget(v, "too large")
    end
    return v
  end
  if type(v) ~= "string" then
    bad_budget(v, "not a count")
  end
  local text = v:match("^%s*(.-)%s*$")
  local int, frac, unit = text:match("^(%d[%d_]*)%.?(%d*)%s*([kKmM]?)$")
  local dotted = text:match("^[%d_]+%.") ~= nil
  if not int or int:find("__", 1, true) or int:sub(-1) == "_" or (dotted and frac == "") then
    bad_budget(v, "not a count")
  end
  int = int:gsub("_", "")
  local zeros = ({ k = 3, m = 6 })[unit:lower()] or 0
  frac = frac:gsub("0+$", "")
  if #frac > zeros then
    bad_budget(v, "not a whole number")
  end
  local digits = (int .. frac .. ("0"):rep(zeros - #frac)):gsub("^0+", "")
  if digits == "" then
    bad_budget(v, "must be positive")
  end
  if #digits > 16 or tonumber(digits) > M.MAX_COUNT then
    bad_budget(v, "too large")
  end
  return tonumber(digits)
end

function M.as_list(v)
  if type(v) == "string" then
    return { v }
  end
  return v
end

-- An empty Lua table would go out as a JSON array; LSP params and settings must be objects.
function M.obj(t)
  if next(t) == nil then
    return vim.empty_dict()
  end
  return t
end

function M.normalize_cmd(cmd)
  if type(cmd) == "string" then
    return vim.split(vim.trim(cmd), "%s+")
  end
  return cmd
end

--- Raises a clear error for a bad option in `opts` (a table given to setup()).
function M.validate(opts)
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
end

--- Validates `opts` and makes the defaults overridden by them the options in force.
function M.set(opts)
  M.validate(opts)
  local cfg = vim.tbl_extend("force", vim.deepcopy(M.defaults), opts) -- lists are replaced, not merged
  cfg.cmd = M.normalize_cmd(cfg.cmd)
  M.options = cfg
  return cfg
end

--- The settings the server understands ({budget, encoding, format, include, exclude}).
function M.server_settings(cfg)
  cfg = cfg or M.options
  return M.obj({
    budget = M.parse_budget(cfg.budget),
    encoding = cfg.encoding,
    format = cfg.format,
    include = M.as_list(cfg.include),
    exclude = M.as_list(cfg.exclude),
  })
end

--- The register results go to.
function M.register()
  local r = M.options.register
  if r ~= nil and r ~= "" then
    return r
  end
  if vim.fn.has("clipboard") == 1 then
    return "+"
  end
  return '"'
end

--- The register :RepoctxApply reads by default: the clipboard "+" when there is one, else '"'.
function M.apply_register()
  if vim.fn.has("clipboard") == 1 then
    return "+"
  end
  return '"'
end

return M
