"""The floor: a bare grpc.aio Unix-socket server whose Converse returns a fixed response.

It decodes the request and encodes the response as any generated servicer would,
and does nothing else; pyllm's cache hit is measured against it.
Usage: python -m bench.floor_server SOCKET RESPONSE_FILE
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import grpc

from component.pb import conversation_pb2 as pb

SERVICE = "dapr.proto.components.v1.Conversation"


async def serve(socket: Path, response: pb.ConversationConverseResponse) -> None:
    async def converse(
        request: pb.ConversationConverseRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConversationConverseResponse:
        del request, context
        return response

    async def ping(
        request: pb.ConversationPingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConversationPingResponse:
        del request, context
        return pb.ConversationPingResponse()

    server = grpc.aio.server()
    handlers = {
        "Converse": grpc.unary_unary_rpc_method_handler(
            converse,
            request_deserializer=pb.ConversationConverseRequest.FromString,
            response_serializer=pb.ConversationConverseResponse.SerializeToString,
        ),
        "Ping": grpc.unary_unary_rpc_method_handler(
            ping,
            request_deserializer=pb.ConversationPingRequest.FromString,
            response_serializer=pb.ConversationPingResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port(f"unix:{socket}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    response = pb.ConversationConverseResponse.FromString(Path(sys.argv[2]).read_bytes())
    asyncio.run(serve(Path(sys.argv[1]), response))
