# Finds every third-party package equifl uses and defines equifl_use_torch(), which
# links LibTorch into a target with the include-order shim the GPU machine needs.

find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
# The dashboard's HTTP server (Boost.Beast, header-only) and its metrics. Only
# prometheus-cpp's core is used (we serve /metrics ourselves), so it is found
# directly: the package's CMake config also requires civetweb, CURL and zlib for its
# pull and push libraries, which the GPU machine need not have.
find_package(Boost 1.74 REQUIRED)
find_path(EQUIFL_PROMETHEUS_INCLUDE_DIR prometheus/registry.h REQUIRED)
find_library(EQUIFL_PROMETHEUS_CORE_LIBRARY prometheus-cpp-core REQUIRED)
add_library(equifl_prometheus_core INTERFACE)
target_include_directories(equifl_prometheus_core SYSTEM INTERFACE "${EQUIFL_PROMETHEUS_INCLUDE_DIR}")
target_link_libraries(equifl_prometheus_core INTERFACE "${EQUIFL_PROMETHEUS_CORE_LIBRARY}"
                                                       Threads::Threads)
if(EQUIFL_WITH_TORCH)
  find_package(Torch REQUIRED)
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# The audio front end: decoding (libsndfile), resampling (libsoxr), the FFT (FFTW,
# single precision).
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
# The video front end: demuxing, decoding and scaling with FFmpeg's libraries.
pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET libavformat libavcodec libswscale libavutil)

# gRPC's C++ code generator plugin.
find_program(EQUIFL_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# The PyTorch wheel on the GPU machine ships its own google/protobuf and fmt headers,
# of other versions than the libraries we link. A folder of links to the system
# headers, put first on the include path of every target that sees Torch, makes the
# same sources build against Debian's LibTorch and the wheel's.
set(EQUIFL_INCLUDE_SHIM "${CMAKE_BINARY_DIR}/include-shim")
file(MAKE_DIRECTORY "${EQUIFL_INCLUDE_SHIM}/google")
list(GET Protobuf_INCLUDE_DIRS 0 _protobuf_include)
get_target_property(_fmt_includes fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
list(GET _fmt_includes 0 _fmt_include)
file(CREATE_LINK "${_protobuf_include}/google/protobuf"
     "${EQUIFL_INCLUDE_SHIM}/google/protobuf" SYMBOLIC)
file(CREATE_LINK "${_fmt_include}/fmt" "${EQUIFL_INCLUDE_SHIM}/fmt" SYMBOLIC)

# equifl_use_torch(<target> <PUBLIC|PRIVATE>): links LibTorch with the shim first.
function(equifl_use_torch target scope)
  target_include_directories(${target} BEFORE ${scope} "${EQUIFL_INCLUDE_SHIM}")
  target_include_directories(${target} SYSTEM ${scope} ${TORCH_INCLUDE_DIRS})
  target_link_libraries(${target} ${scope} ${TORCH_LIBRARIES})
endfunction()

# equifl_compile_in_batches(<target>): compiles the target's files four to a
# translation unit. Even precompiled, <torch/torch.h> costs about 6 s to load per
# translation unit and every unit instantiates the same LibTorch templates again;
# the demo's build took 6 min 14 s one file per unit and 4 min 21 s in batches
# (with -g1, fresh clone, no ccache, 2 cores). EQUIFL_UNITY_BUILD=OFF compiles one
# file per unit, which checks that every file includes what it uses.
function(equifl_compile_in_batches target)
  set_target_properties(${target} PROPERTIES UNITY_BUILD ${EQUIFL_UNITY_BUILD}
                                             UNITY_BUILD_BATCH_SIZE 4)
endfunction()

# With CMake 4 the imported protobuf::libprotobuf target came out empty on the GPU
# machine, so the library files are linked explicitly as well.
add_library(equifl_protobuf INTERFACE)
target_link_libraries(equifl_protobuf INTERFACE protobuf::libprotobuf ${Protobuf_LIBRARIES})
