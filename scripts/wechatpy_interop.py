#!/usr/bin/env python3
"""Independent WeCom callback crypto for rallybot-messages' interop test, backed by wechatpy.

Reads a JSON array of operations on stdin and writes a JSON array of results on stdout, one per
operation, so one interpreter start serves a whole test. Operations (all strings):

  {"op": "encrypt", "token", "key", "receive_id", "plaintext", "nonce", "timestamp"}
      -> {"envelope": <wechatpy's XML reply envelope>}
  {"op": "decrypt", "token", "key", "receive_id", "envelope", "signature", "timestamp", "nonce"}
      -> {"plaintext": ...} or {"error": <exception class name>}
  {"op": "check_signature", "token", "key", "receive_id", "echostr", "signature", "timestamp", "nonce"}
      -> {"plaintext": ...} or {"error": <exception class name>}

Used with wechatpy 1.8.18 (`wechatpy.enterprise.crypto`), which accepts corp_id="" as the group
robot and the AI bot need.
"""
import json
import sys

from wechatpy.enterprise.crypto import WeChatCrypto


def crypto(op):
    return WeChatCrypto(op["token"], op["key"], op["receive_id"])


def run(op):
    kind = op["op"]
    try:
        if kind == "encrypt":
            envelope = crypto(op).encrypt_message(op["plaintext"], op["nonce"], op["timestamp"])
            return {"envelope": envelope}
        if kind == "decrypt":
            plaintext = crypto(op).decrypt_message(
                op["envelope"], op["signature"], op["timestamp"], op["nonce"]
            )
            return {"plaintext": plaintext}
        if kind == "check_signature":
            plaintext = crypto(op).check_signature(
                op["signature"], op["timestamp"], op["nonce"], op["echostr"]
            )
            return {"plaintext": plaintext}
        return {"error": "UnknownOperation"}
    except Exception as exc:  # the test asserts on the class name
        return {"error": type(exc).__name__}


def main():
    ops = json.load(sys.stdin)
    json.dump([run(op) for op in ops], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
