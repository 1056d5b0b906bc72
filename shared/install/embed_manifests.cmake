# Generates a C++ source holding every file under manifests/ (cmake -P, from CMakeLists.txt), so
# `kubectl dr install` applies the same manifests wherever the plugin was installed from.
#   cmake -DROOT=<repo>/manifests -DOUT=<build>/generated/embedded_manifests.cc -P embed_manifests.cmake
file(GLOB_RECURSE files RELATIVE ${ROOT} ${ROOT}/*.yaml)
list(SORT files)
set(delimiter "kdr_manifest")
set(entries "")
foreach(f IN LISTS files)
  file(READ ${ROOT}/${f} content)
  string(FIND "${content}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "manifests/${f} contains the raw-string delimiter )${delimiter}\"")
  endif()
  string(APPEND entries "    {\"${f}\", R\"${delimiter}(${content})${delimiter}\"},\n")
endforeach()
set(text "// Generated from manifests/ by shared/install/embed_manifests.cmake. Do not edit.\n\n")
string(APPEND text "#include \"install/manifests.h\"\n\nnamespace kdr::install {\n\n")
string(APPEND text "std::span<const ManifestFile> EmbeddedManifests() {\n")
string(APPEND text "  static constexpr ManifestFile kFiles[] = {\n${entries}  };\n")
string(APPEND text "  return kFiles;\n}\n\n}  // namespace kdr::install\n")
# Rewritten only when it changed, so an unrelated reconfigure does not rebuild it.
file(WRITE ${OUT}.tmp "${text}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
