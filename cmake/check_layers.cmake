# The include check: every project #include must point at the same folder or
# a layer below it. Run by the build (target argus_layer_check, part of ALL);
# a violation fails the build, naming the file, the include and both layers.
#   cmake -DSOURCE_DIR=<repo> -DSTAMP=<file> -P cmake/check_layers.cmake
#
# Layers, lowest first. A folder may include its own headers and those of any
# strictly lower layer; server/ and client/ never include each other.
set(_layers
  "common=0"
  "net=1" "log=1"
  "server/store=2" "server/metrics=2" "server/config=2"
  "server/tower=3" "server/chain=3"
  "server/watch=4"
  "server/api=5"
  "server=6"
  "client/channel=2"
  "client/backup=3"
  "client/node=4"
  "client=5")

function(_layer_of path out_name out_rank)
  # The longest listed folder that contains `path`.
  set(best_name "")
  set(best_rank "")
  foreach(entry IN LISTS _layers)
    string(REPLACE "=" ";" pair "${entry}")
    list(GET pair 0 name)
    list(GET pair 1 rank)
    string(LENGTH "${name}" len)
    string(SUBSTRING "${path}/" 0 ${len} head)
    string(LENGTH "${best_name}" best_len)
    if(head STREQUAL name AND "${path}/" MATCHES "^${name}/" AND len GREATER best_len)
      set(best_name "${name}")
      set(best_rank "${rank}")
    endif()
  endforeach()
  set(${out_name} "${best_name}" PARENT_SCOPE)
  set(${out_rank} "${best_rank}" PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE _sources RELATIVE "${SOURCE_DIR}"
  "${SOURCE_DIR}/common/*.h" "${SOURCE_DIR}/common/*.cpp"
  "${SOURCE_DIR}/net/*.h" "${SOURCE_DIR}/net/*.cpp"
  "${SOURCE_DIR}/log/*.h" "${SOURCE_DIR}/log/*.cpp"
  "${SOURCE_DIR}/server/*.h" "${SOURCE_DIR}/server/*.cpp"
  "${SOURCE_DIR}/client/*.h" "${SOURCE_DIR}/client/*.cpp")
set(_violations "")
foreach(source IN LISTS _sources)
  get_filename_component(folder "${source}" DIRECTORY)
  _layer_of("${folder}" from from_rank)
  if(from STREQUAL "")
    string(APPEND _violations "  ${source}: its folder is in no layer (add it to cmake/check_layers.cmake)\n")
    continue()
  endif()
  file(STRINGS "${SOURCE_DIR}/${source}" includes REGEX "^[ \t]*#[ \t]*include[ \t]+\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*$" "\\1" header "${line}")
    get_filename_component(header_folder "${header}" DIRECTORY)
    if(header_folder STREQUAL "")
      continue()  # a system-style or same-directory include
    endif()
    _layer_of("${header_folder}" to to_rank)
    if(to STREQUAL "")
      string(APPEND _violations "  ${source}: includes ${header}, which is in no layer\n")
    elseif(to STREQUAL from)
      continue()
    elseif((from MATCHES "^server" AND to MATCHES "^client") OR (from MATCHES "^client" AND to MATCHES "^server"))
      string(APPEND _violations "  ${source}: includes ${header}: server/ and client/ never depend on each other\n")
    elseif(NOT to_rank LESS from_rank)
      string(APPEND _violations "  ${source} (${from}, layer ${from_rank}) includes ${header} (${to}, layer ${to_rank}): not a lower layer\n")
    endif()
  endforeach()
endforeach()
if(NOT _violations STREQUAL "")
  message(FATAL_ERROR "Layer check failed:\n${_violations}")
endif()
if(STAMP)
  file(WRITE "${STAMP}" "ok\n")
endif()
