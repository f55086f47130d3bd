"""The Python route most WeCom group robots take, for `rallybot bench --mode python`:
PyPI's wecom_bot_svr (Flask + WXBizMsgCrypt) answering every message with a fixed text, served
by gunicorn (`python_peer:app`). Credentials come from WX_BOT_TOKEN / WX_BOT_AES_KEY."""

import os

from wecom_bot_svr import RspTextMsg, WecomBotServer

REPLY = os.environ.get("RALLYBOT_PEER_REPLY", "ok")


def on_message(msg):
    reply = RspTextMsg()
    reply.content = REPLY
    return reply


def on_event(event):
    reply = RspTextMsg()
    reply.content = ""
    return reply


_server = WecomBotServer("rallybot", "127.0.0.1", 0, path="/wecom/robot", corp_id="")
_server.set_message_handler(on_message)
_server.set_event_handler(on_event)
# What WecomBotServer.run() registers before starting Flask's own server; gunicorn serves instead.
_server._app.get(_server.path)(_server.handle_bot_call_get)
_server._app.post(_server.path)(_server.handle_bot_call_post)
app = _server._app
