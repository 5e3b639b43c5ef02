# Detect CUDA + cuBLAS + cuDNN. Sets HELLODL_CUDA_FOUND and says what it found.
# When everything is there (and the tree has runtime/cuda/), enables the CUDA
# language for the backend module; nothing else in the build uses it.
set(HELLODL_CUDA_FOUND OFF)
option(HELLODL_CUDA "Build the CUDA backend when the toolkit and cuDNN are found" ON)
# Real code for A100 (8.0) and H100 (9.0); the 9.0 PTX is compiled by the
# driver for newer GPUs. 8.6/8.9 run the 8.0 code.
set(HELLODL_CUDA_ARCHS "80;90" CACHE STRING
    "CUDA architectures of the backend module (CMAKE_CUDA_ARCHITECTURES syntax)")
if(HELLODL_CUDA)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
    if(CUDNN_INCLUDE_DIR AND CUDNN_LIBRARY AND TARGET CUDA::cublas
       AND TARGET CUDA::cudart_static)
      set(HELLODL_CUDA_FOUND ON)
    endif()
  endif()
endif()

set(_hellodl_cuda_libs "CUDA ${CUDAToolkit_VERSION} with cuBLAS and cuDNN (${CUDNN_LIBRARY})")
set(_hellodl_nvcc_ok OFF)
if(HELLODL_CUDA_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/runtime/cuda/CMakeLists.txt)
  # nvcc may not be on PATH: point the compiler check at the toolkit's own.
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX}
     AND CUDAToolkit_NVCC_EXECUTABLE)
    set(ENV{CUDACXX} "${CUDAToolkit_NVCC_EXECUTABLE}")
  endif()
  # A toolkit whose nvcc cannot compile here (an unsupported host compiler)
  # leaves the build CPU-only instead of failing the configure.
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_hellodl_nvcc_ok ON)
  endif()
endif()

if(HELLODL_CUDA_FOUND AND _hellodl_nvcc_ok)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "${HELLODL_CUDA_ARCHS}")
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  message(STATUS "hellodl: ${_hellodl_cuda_libs} found: the CUDA backend "
                 "module will be built for architectures ${HELLODL_CUDA_ARCHS}")
elseif(HELLODL_CUDA_FOUND AND NOT EXISTS ${PROJECT_SOURCE_DIR}/runtime/cuda/CMakeLists.txt)
  message(STATUS "hellodl: ${_hellodl_cuda_libs} found, but this tree has no CUDA backend (runtime/cuda/) yet: CPU backend only")
  set(HELLODL_CUDA_FOUND OFF)
elseif(HELLODL_CUDA_FOUND)
  message(STATUS "hellodl: ${_hellodl_cuda_libs} found, but nvcc cannot compile with this host compiler (see CMakeFiles/CMakeError.log): CPU backend only")
  set(HELLODL_CUDA_FOUND OFF)
elseif(NOT HELLODL_CUDA)
  message(STATUS "hellodl: CUDA backend disabled (-DHELLODL_CUDA=OFF): CPU backend only")
elseif(NOT CUDAToolkit_FOUND)
  message(STATUS "hellodl: no CUDA toolkit found: CPU backend only")
else()
  message(STATUS "hellodl: CUDA ${CUDAToolkit_VERSION} found but cuDNN, cuBLAS or the static CUDA runtime is missing: CPU backend only")
endif()
