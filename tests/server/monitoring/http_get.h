// A blocking HTTP(S) GET for the monitoring tests (Boost.Beast), with optional
// headers and, over HTTPS, an optional client certificate.
#ifndef EQUIFL_TESTS_SERVER_MONITORING_HTTP_GET_H_
#define EQUIFL_TESTS_SERVER_MONITORING_HTTP_GET_H_

#include <map>
#include <string>

#include "server/monitoring/http_server.h"

namespace equifl::server::monitoring {

struct HttpReply {
  int status = 0;  //!< 0: no answer (the connection failed or was closed).
  std::map<std::string, std::string> headers;  //!< Names in lower case.
  std::string body;

  //! The header `name` (lower case); empty when absent.
  std::string Header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

//! Options for an HTTP server on `address` with `token` (may be empty).
inline HttpServerOptions Options(std::string address, std::string token = "") {
  HttpServerOptions options;
  options.address = std::move(address);
  options.token = std::move(token);
  return options;
}

struct HttpCall {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string target = "/";
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  bool tls = false;
  std::string ca_file;           //!< Over HTTPS: verify the server with this CA.
  std::string certificate_file;  //!< Over HTTPS: present this client certificate.
  std::string private_key_file;
};

HttpReply Call(const HttpCall& call);

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_TESTS_SERVER_MONITORING_HTTP_GET_H_
