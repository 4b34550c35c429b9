"""A small pika (Python) client run by test/amqp/pika.test.ts against an AMQP 0-9-1 broker.

Usage: python3 pika_client.py AMQP_URL QUEUE_PREFIX
Prints one JSON object: what each step saw. Steps are independent so one failure does not
hide the others; a step that raised reports {"error": "..."}.
"""
import json
import sys

import pika
import pika.exceptions

URL, PREFIX = sys.argv[1], sys.argv[2]
params = pika.URLParameters(URL)
results = {}


def step(name):
    def wrap(fn):
        try:
            results[name] = fn()
        except Exception as e:  # reported to the test, which asserts on it
            results[name] = {"error": "%s: %s" % (type(e).__name__, e)}
        return fn

    return wrap


conn = pika.BlockingConnection(params)
results["server"] = {
    "product": conn._impl.server_properties.get("product", b"").decode()
    if isinstance(conn._impl.server_properties.get("product"), bytes)
    else conn._impl.server_properties.get("product"),
    "capabilities": {
        k: v for k, v in conn._impl.server_properties.get("capabilities", {}).items()
    },
}
ch = conn.channel()
q = PREFIX + "-work"
ch.queue_declare(q, durable=True)


@step("confirm_publish")
def _():
    ch.confirm_delivery()
    props = pika.BasicProperties(
        delivery_mode=2,
        content_type="text/plain",
        message_id="m-1",
        headers={"n": 1, "s": "x", "nested": {"ok": True}, "list": [1, "a"]},
    )
    for i in range(10):
        ch.basic_publish("", q, ("msg-%d" % i).encode(), props, mandatory=True)
    unroutable = None
    try:
        ch.basic_publish("amq.direct", "nobody-" + PREFIX, b"x", mandatory=True)
    except pika.exceptions.UnroutableError as e:
        unroutable = len(e.messages)
    return {"published": 10, "unroutable_returned": unroutable}


@step("basic_get")
def _():
    method, props, body = ch.basic_get(q, auto_ack=False)
    ch.basic_ack(method.delivery_tag)
    return {
        "body": body.decode(),
        "message_count": method.message_count,
        "redelivered": method.redelivered,
        "content_type": props.content_type,
        "message_id": props.message_id,
        "headers": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in props.headers.items()},
        "delivery_mode": props.delivery_mode,
    }


@step("consume_ack")
def _():
    got = []
    for method, props, body in ch.consume(q, inactivity_timeout=2):
        if method is None:
            break
        got.append(body.decode())
        ch.basic_ack(method.delivery_tag)
        if len(got) == 9:
            break
    ch.cancel()
    return {"bodies": got, "left": ch.queue_declare(q, passive=True).method.message_count}


@step("tx")
def _():
    tch = conn.channel()
    tq = PREFIX + "-tx"
    tch.queue_declare(tq, exclusive=True)
    tch.tx_select()
    tch.basic_publish("", tq, b"rolled-back")
    tch.tx_rollback()
    after_rollback = tch.queue_declare(tq, passive=True).method.message_count
    tch.basic_publish("", tq, b"committed")
    before_commit = tch.queue_declare(tq, passive=True).method.message_count
    tch.tx_commit()
    after_commit = tch.queue_declare(tq, passive=True).method.message_count
    # an ack inside a transaction takes effect at commit only
    method, _, body = tch.basic_get(tq, auto_ack=False)
    tch.tx_commit()
    tch.basic_ack(method.delivery_tag)
    tch.tx_rollback()  # the ack is undone: the message stays unacked
    tch.basic_recover(requeue=True)
    method2, _, body2 = tch.basic_get(tq, auto_ack=False)
    tch.basic_ack(method2.delivery_tag)
    tch.tx_commit()
    left = tch.queue_declare(tq, passive=True).method.message_count
    tch.close()
    return {
        "after_rollback": after_rollback,
        "before_commit": before_commit,
        "after_commit": after_commit,
        "redelivered_after_rolled_back_ack": method2.redelivered,
        "body": body2.decode(),
        "left_after_committed_ack": left,
    }


@step("flow")
def _():
    fch = conn.channel()
    active = fch.flow(True)
    fch.close()
    return {"active": active}


@step("not_found")
def _():
    ech = conn.channel()
    try:
        ech.queue_declare(PREFIX + "-missing", passive=True)
    except pika.exceptions.ChannelClosedByBroker as e:
        return {"code": e.reply_code, "text": e.reply_text}
    return {"code": None}


@step("unknown_vhost")
def _():
    p = pika.URLParameters(URL)
    p.virtual_host = "no-such-vhost"
    try:
        pika.BlockingConnection(p).close()
    except pika.exceptions.ConnectionClosedByBroker as e:
        return {"code": e.reply_code, "text": e.reply_text}
    except pika.exceptions.AMQPConnectionError as e:
        inner = e.args[0] if e.args else e
        return {"code": getattr(inner, "reply_code", None), "text": getattr(inner, "reply_text", str(e))}
    return {"code": None}


@step("bad_password")
def _():
    p = pika.URLParameters(URL)
    p.credentials = pika.PlainCredentials(p.credentials.username, "wrong-password")
    try:
        pika.BlockingConnection(p).close()
    except pika.exceptions.ProbableAuthenticationError as e:
        inner = e.args[0] if e.args else e
        return {"kind": "ProbableAuthenticationError", "text": str(inner)}
    except pika.exceptions.AMQPConnectionError as e:
        return {"kind": type(e).__name__, "text": str(e)}
    return {"kind": None}


ch.queue_delete(q)
conn.close()
print(json.dumps(results))
