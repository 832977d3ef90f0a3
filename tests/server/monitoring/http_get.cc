#include "tests/server/monitoring/http_get.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "absl/strings/ascii.h"

namespace equifl::server::monitoring {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

template <typename Stream>
HttpReply Exchange(Stream& stream, const HttpCall& call) {
  http::request<http::string_body> request{http::string_to_verb(call.method), call.target, 11};
  request.set(http::field::host, call.host);
  for (const auto& [name, value] : call.headers) request.set(name, value);
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  HttpReply reply;
  reply.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    reply.headers[absl::AsciiStrToLower(std::string(field.name_string()))] =
        std::string(field.value());
  }
  reply.body = response.body();
  return reply;
}

}  // namespace

HttpReply Call(const HttpCall& call) {
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(call.host, std::to_string(call.port));
    if (!call.tls) {
      beast::tcp_stream stream(io);
      stream.expires_after(std::chrono::seconds(10));
      stream.connect(endpoints);
      return Exchange(stream, call);
    }
    asio::ssl::context context(asio::ssl::context::tls_client);
    if (!call.ca_file.empty()) {
      context.load_verify_file(call.ca_file);
      context.set_verify_mode(asio::ssl::verify_peer);
    }
    if (!call.certificate_file.empty()) {
      context.use_certificate_chain_file(call.certificate_file);
      context.use_private_key_file(call.private_key_file, asio::ssl::context::pem);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, context);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(endpoints);
    stream.handshake(asio::ssl::stream_base::client);
    return Exchange(stream, call);
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace equifl::server::monitoring
