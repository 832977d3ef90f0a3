// The live dashboard's page, compiled into the binary from server/monitoring/dashboard/
// by cmake/EmbedFiles.cmake (dashboard_files.cc is generated in the build folder).
#ifndef EQUIFL_SERVER_MONITORING_DASHBOARD_FILES_H_
#define EQUIFL_SERVER_MONITORING_DASHBOARD_FILES_H_

#include <cstddef>
#include <string_view>

namespace equifl::server::monitoring {

struct EmbeddedFile {
  const char* name;          //!< The file's name, e.g. "app.js".
  std::string_view content;  //!< Its bytes.
};

extern const EmbeddedFile kDashboardFiles[];
extern const size_t kDashboardFilesCount;

}  // namespace equifl::server::monitoring

#endif  // EQUIFL_SERVER_MONITORING_DASHBOARD_FILES_H_
