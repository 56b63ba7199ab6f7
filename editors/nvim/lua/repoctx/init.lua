-- repoctx for Neovim: starts `repoctx serve` with the built-in LSP client, one client per
-- repository, and adds :RepoctxContext, :RepoctxPack, :RepoctxMap and :RepoctxApply. See :help repoctx.
--
-- The plugin in modules: repoctx.config (options, validation, the budget rule, server settings),
-- repoctx.client (roots, the server, requests), repoctx.commands (context/pack/map and the user
-- commands), repoctx.ui (messages, scratch buffers), repoctx.health (:checkhealth repoctx).
-- This module is the public API and re-exports them.

local config = require("repoctx.config")
local client = require("repoctx.client")
local commands = require("repoctx.commands")
local ui = require("repoctx.ui")

local M = {}

M.defaults = config.defaults
M.parse_budget = config.parse_budget
M.server_settings = config.server_settings
M.register = config.register
M.ccall = client.ccall
M.find_root = client.find_root
M.root = client.root
M.clients = client.clients
M.get_client = client.get_client
M.start = client.start
M.autoattach = client.autoattach
M.stop = client.stop
M.context = commands.context
M.pack = commands.pack
M.map = commands.map
M.apply = commands.apply
M.show = ui.show
M._setup_done = false

-- State lives in the module that owns it; require("repoctx").config, .last, ._clients … read and
-- write it there.
local STATE = {
  config = { config, "options" },
  last = { client, "last" },
  _clients = { client, "_clients" },
  _exit = { client, "_exit" },
  _waiting = { client, "_waiting" },
  _stopping = { client, "_stopping" },
  _warned = { client, "_warned" },
  _bufs = { ui, "_bufs" },
}
setmetatable(M, {
  __index = function(_, k)
    local s = STATE[k]
    if s then
      return s[1][s[2]]
    end
  end,
  __newindex = function(t, k, v)
    local s = STATE[k]
    if s then
      s[1][s[2]] = v
    else
      rawset(t, k, v)
    end
  end,
})

--- Changes settings at run time and tells running servers (workspace/didChangeConfiguration).
function M.configure(opts)
  config.validate(opts or {})
  config.options = vim.tbl_deep_extend("force", config.options, opts or {})
  client.send_settings(config.server_settings())
end

--- Configures the plugin, defines the commands and (with autostart) attaches matching buffers.
function M.setup(opts)
  local cfg = config.set(opts or {})
  commands.define()
  local group = vim.api.nvim_create_augroup("repoctx", { clear = true })
  if cfg.autostart then
    local fts = cfg.filetypes
    vim.api.nvim_create_autocmd("FileType", {
      group = group,
      pattern = (fts and #fts > 0) and fts or "*",
      callback = function(a)
        client.autoattach(a.buf)
      end,
    })
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) then
        client.autoattach(b)
      end
    end
  end
  M._setup_done = true
  return M
end

return M
