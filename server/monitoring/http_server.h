// A small HTTP(S) server for what the aggregator and clients show about themselves:
// the live dashboard, its JSON API and Prometheus metrics. GET only, bounded
// requests, a few connections, idle connections closed; every answer carries a
// restrictive Content-Security-Policy and no-store caching.
//
// Who may ask: on 127.0.0.1, ::1 or localhost anyone local (unless a token is set);
// on any other address (127.0.0.2 included) a request needs the access token (an
// `Authorization: Bearer` header, or `?token=` once, which sets an HttpOnly cookie
// for the page's own requests) or, over HTTPS, a client certificate signed by the
// configured CA. Start refuses a non-loopback address that would let anyone in.
//
// Boost.Beast on one thread of its own; the handler runs on that thread.
#ifndef EQUIFL_SERVER_MONITORING_HTTP_SERVER_H_
#define EQUIFL_SERVER_MONITORING_HTTP_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace equifl::server::monitoring {

struct HttpRequest {
  std::string path;  //!< The target without its query, e.g. "/api/rounds".
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

//! Answers a request that passed the access check.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string address;  //!< host:port ("[::1]:0" for IPv6); port 0 picks a free one.
  std::string token;    //!< Access token; empty: none.
  //! HTTPS with this certificate chain and key (PEM) when set; plain HTTP otherwise.
  std::string certificate_file;
  std::string private_key_file;
  //! Over HTTPS: client certificates signed by this CA (PEM) are let in.
  std::string client_ca_file;
  int max_connections = 64;  //!< More are closed at once.
  std::chrono::seconds idle_timeout{30};
};

class HttpServer {
 public:
  //! Listens on options.address and serves `handler`. Fails when the address is
  //! bad or taken, a TLS file cannot be used, or the address is not loopback and
  //! neither a token nor a client CA over HTTPS guards it.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);
  ~HttpServer();  //!< Stops serving; open connections are closed.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  //! "http://127.0.0.1:8080/" (or https), for the start-up line.
  std::string url() const;
  //! What a request must carry here, in words, for the start-up line.
  std::string access() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

//! Whether `host` is 127.0.0.1, ::1 or localhost (the addresses open without a token).
bool IsLoopbackHost(absl::string_view host);

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_SERVER_MONITORING_HTTP_SERVER_H_
