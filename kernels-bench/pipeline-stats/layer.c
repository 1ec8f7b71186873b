// A Vulkan layer that asks the driver what it made of each compute pipeline: the statistics and internal
// representations of VK_KHR_pipeline_executable_properties (registers, shared memory, spills, instruction counts,
// and whatever text the driver offers), written per pipeline into $FAPOOL_PIPESTATS_DIR with the SPIR-V Dawn
// handed over. Dawn cannot be asked for this (WebGPU exposes no such thing), so the layer sits between Dawn and
// the driver. Enable it for one process:
//   VK_LAYER_PATH=kernels-bench/pipeline-stats/build VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR=/tmp/stats node …
// Build: kernels-bench/pipeline-stats/build.sh. Nothing changes when the driver lacks the extension (the files
// then hold only the SPIR-V and a line saying so).
// With FAPOOL_CMDLOG=<file> the layer also writes the compute commands as Dawn records them, one a line: each
// pipeline bound (its WGSL entry's name where FAPOOL_PIPESTATS_DIR is set too, which keeps Dawn from renaming it),
// each dispatch, each pipeline barrier with its stage and access masks, copies, timestamps and submits; that shows
// where Dawn puts its barriers, which no WebGPU call can tell.
#include <vulkan/vulkan.h>
#include <vulkan/vk_layer.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
#define EXT_NAME "VK_KHR_pipeline_executable_properties"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static PFN_vkGetInstanceProcAddr next_gipa;
static PFN_vkGetDeviceProcAddr next_gdpa;
static VkInstance last_instance;
static int enabled_on_device;   // the extension and its feature were enabled on the devices created so far
static unsigned seq;

// SPIR-V of live shader modules (a short list: Dawn creates a module, then its pipeline).
struct module { VkShaderModule m; uint32_t *code; size_t size; struct module *next; };
static struct module *modules;

// The recorded SPIR-V of module m, or NULL (the caller holds `lock`).
static struct module *find_module(VkShaderModule m) {
  for (struct module *e = modules; e; e = e->next) if (e->m == m) return e;
  return NULL;
}

static const char *out_dir(void) { return getenv("FAPOOL_PIPESTATS_DIR"); }

// The command log (FAPOOL_CMDLOG), or NULL; opened once, on first use.
static FILE *cmd_file;
static pthread_once_t cmd_once = PTHREAD_ONCE_INIT;
static void cmd_open(void) { const char *p = getenv("FAPOOL_CMDLOG"); if (p) cmd_file = fopen(p, "w"); }
static FILE *cmd_log(void) { pthread_once(&cmd_once, cmd_open); return cmd_file; }
// The driver's functions behind the command log's hooks, resolved when a device is made with the log asked for (the
// last device's: one driver serves them all here).
static struct {
  PFN_vkCmdBindPipeline bind; PFN_vkCmdDispatch dispatch; PFN_vkCmdPipelineBarrier barrier; PFN_vkCmdPipelineBarrier2 barrier2;
  PFN_vkCmdCopyBuffer copy; PFN_vkCmdWriteTimestamp timestamp; PFN_vkQueueSubmit submit;
} next_cmd;
static void resolve_cmd(PFN_vkGetDeviceProcAddr gdpa, VkDevice d) {
  next_cmd.bind = (PFN_vkCmdBindPipeline)gdpa(d, "vkCmdBindPipeline");
  next_cmd.dispatch = (PFN_vkCmdDispatch)gdpa(d, "vkCmdDispatch");
  next_cmd.barrier = (PFN_vkCmdPipelineBarrier)gdpa(d, "vkCmdPipelineBarrier");
  next_cmd.barrier2 = (PFN_vkCmdPipelineBarrier2)gdpa(d, "vkCmdPipelineBarrier2");
  if (!next_cmd.barrier2) next_cmd.barrier2 = (PFN_vkCmdPipelineBarrier2)gdpa(d, "vkCmdPipelineBarrier2KHR");
  next_cmd.copy = (PFN_vkCmdCopyBuffer)gdpa(d, "vkCmdCopyBuffer");
  next_cmd.timestamp = (PFN_vkCmdWriteTimestamp)gdpa(d, "vkCmdWriteTimestamp");
  next_cmd.submit = (PFN_vkQueueSubmit)gdpa(d, "vkQueueSubmit");
}
// Pipelines' entry names for the command log, newest last.
#define MAX_NAMED 8192
static struct { VkPipeline p; char name[120]; } named[MAX_NAMED];
static unsigned n_named;
static const char *pipeline_name(VkPipeline p) {
  for (unsigned i = n_named; i-- > 0;) if (named[i].p == p) return named[i].name;
  return "?";
}

static VKAPI_ATTR VkResult VKAPI_CALL fp_CreateInstance(const VkInstanceCreateInfo *ci, const VkAllocationCallbacks *a, VkInstance *inst) {
  VkLayerInstanceCreateInfo *li = (VkLayerInstanceCreateInfo *)ci->pNext;
  while (li && !(li->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO && li->function == VK_LAYER_LINK_INFO))
    li = (VkLayerInstanceCreateInfo *)li->pNext;
  if (!li) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = li->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  li->u.pLayerInfo = li->u.pLayerInfo->pNext;
  PFN_vkCreateInstance create = (PFN_vkCreateInstance)gipa(VK_NULL_HANDLE, "vkCreateInstance");
  VkResult r = create(ci, a, inst);
  if (r == VK_SUCCESS) { pthread_mutex_lock(&lock); next_gipa = gipa; last_instance = *inst; pthread_mutex_unlock(&lock); }
  return r;
}

static int has_extension(PFN_vkGetInstanceProcAddr gipa, VkPhysicalDevice pd) {
  PFN_vkEnumerateDeviceExtensionProperties en = (PFN_vkEnumerateDeviceExtensionProperties)gipa(last_instance, "vkEnumerateDeviceExtensionProperties");
  uint32_t n = 0;
  if (!en || en(pd, NULL, &n, NULL) != VK_SUCCESS || !n) return 0;
  VkExtensionProperties *p = calloc(n, sizeof *p);
  int found = 0;
  if (p && en(pd, NULL, &n, p) == VK_SUCCESS)
    for (uint32_t i = 0; i < n; i++) if (!strcmp(p[i].extensionName, EXT_NAME)) found = 1;
  free(p);
  return found;
}

static VKAPI_ATTR VkResult VKAPI_CALL fp_CreateDevice(VkPhysicalDevice pd, const VkDeviceCreateInfo *ci, const VkAllocationCallbacks *a, VkDevice *dev) {
  VkLayerDeviceCreateInfo *li = (VkLayerDeviceCreateInfo *)ci->pNext;
  while (li && !(li->sType == VK_STRUCTURE_TYPE_LOADER_DEVICE_CREATE_INFO && li->function == VK_LAYER_LINK_INFO))
    li = (VkLayerDeviceCreateInfo *)li->pNext;
  if (!li) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr gipa = li->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  PFN_vkGetDeviceProcAddr gdpa = li->u.pLayerInfo->pfnNextGetDeviceProcAddr;
  li->u.pLayerInfo = li->u.pLayerInfo->pNext;
  PFN_vkCreateDevice create = (PFN_vkCreateDevice)gipa(last_instance, "vkCreateDevice");
  VkDeviceCreateInfo c = *ci;
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR feat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR, .pNext = (void *)ci->pNext, .pipelineExecutableInfo = VK_TRUE,
  };
  const char **names = NULL;
  int ext = has_extension(gipa, pd);
  if (ext) {
    int already = 0;
    for (uint32_t i = 0; i < ci->enabledExtensionCount; i++) if (!strcmp(ci->ppEnabledExtensionNames[i], EXT_NAME)) already = 1;
    names = calloc(ci->enabledExtensionCount + 1, sizeof *names);
    memcpy(names, ci->ppEnabledExtensionNames, ci->enabledExtensionCount * sizeof *names);
    if (!already) names[c.enabledExtensionCount++] = EXT_NAME;
    c.ppEnabledExtensionNames = names;
    c.pNext = &feat;
  }
  VkResult r = create(pd, &c, a, dev);
  free(names);
  if (r == VK_SUCCESS) {
    pthread_mutex_lock(&lock); next_gdpa = gdpa; enabled_on_device = ext; pthread_mutex_unlock(&lock);
    if (getenv("FAPOOL_CMDLOG")) resolve_cmd(gdpa, *dev);
  }
  return r;
}

static VKAPI_ATTR VkResult VKAPI_CALL fp_CreateShaderModule(VkDevice d, const VkShaderModuleCreateInfo *ci, const VkAllocationCallbacks *a, VkShaderModule *m) {
  PFN_vkCreateShaderModule next = (PFN_vkCreateShaderModule)next_gdpa(d, "vkCreateShaderModule");
  VkResult r = next(d, ci, a, m);
  if (r == VK_SUCCESS && (out_dir() || getenv("FAPOOL_CMDLOG"))) {
    struct module *e = malloc(sizeof *e);
    if (e && (e->code = malloc(ci->codeSize))) {
      memcpy(e->code, ci->pCode, ci->codeSize);
      e->size = ci->codeSize; e->m = *m;
      pthread_mutex_lock(&lock); e->next = modules; modules = e; pthread_mutex_unlock(&lock);
    } else free(e);
  }
  return r;
}

static VKAPI_ATTR void VKAPI_CALL fp_DestroyShaderModule(VkDevice d, VkShaderModule m, const VkAllocationCallbacks *a) {
  pthread_mutex_lock(&lock);
  for (struct module **p = &modules; *p; p = &(*p)->next) {
    if ((*p)->m == m) { struct module *e = *p; *p = e->next; free(e->code); free(e); break; }
  }
  pthread_mutex_unlock(&lock);
  ((PFN_vkDestroyShaderModule)next_gdpa(d, "vkDestroyShaderModule"))(d, m, a);
}

static void write_spirv(const char *base, VkShaderModule m) {
  char path[1100];
  pthread_mutex_lock(&lock);
  struct module *e = find_module(m);
  if (e) {
    snprintf(path, sizeof path, "%s.spv", base);
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(e->code, 1, e->size, f); fclose(f); }
  }
  pthread_mutex_unlock(&lock);
}

// The original name of the entry point `entry` of a module: Dawn renames every entry point to dawn_entry_point,
// but with its disable_symbol_renaming toggle (src/gpu/backend-node.ts sets it when FAPOOL_PIPESTATS_DIR is set)
// the SPIR-V keeps an OpName of the entry function with the WGSL name.
static void entry_name(VkShaderModule m, const char *entry, char *out, size_t cap) {
  snprintf(out, cap, "%s", entry);
  pthread_mutex_lock(&lock);
  struct module *e = find_module(m);
  if (e) {
    const uint32_t *w = e->code; size_t n = e->size / 4, i = 5;
    uint32_t fn = 0;
    for (size_t j = i; j < n && (w[j] >> 16); j += w[j] >> 16)   // OpEntryPoint (15): model, function id, name
      if ((w[j] & 0xffff) == 15 && (w[j] >> 16) > 3 && !strncmp((const char *)&w[j + 3], entry, 4 * ((w[j] >> 16) - 3))) fn = w[j + 2];
    for (size_t j = i; fn && j < n && (w[j] >> 16); j += w[j] >> 16)   // OpName (5): target id, name
      if ((w[j] & 0xffff) == 5 && (w[j] >> 16) > 2 && w[j + 1] == fn) { snprintf(out, cap, "%.*s", (int)(4 * ((w[j] >> 16) - 2)), (const char *)&w[j + 2]); break; }
  }
  pthread_mutex_unlock(&lock);
}

static void stat_value(FILE *f, const VkPipelineExecutableStatisticKHR *s) {
  switch (s->format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: fprintf(f, "%s", s->value.b32 ? "true" : "false"); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: fprintf(f, "%lld", (long long)s->value.i64); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: fprintf(f, "%llu", (unsigned long long)s->value.u64); break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: fprintf(f, "%g", s->value.f64); break;
    default: fprintf(f, "?");
  }
}

// The statistics and internal representations of every executable of pipeline p, into <base>.txt (and binary
// representations into <base>.<k>.<i>.bin).
static void write_stats(VkDevice d, VkPipeline p, const char *base, const char *entry) {
  char path[1100];
  snprintf(path, sizeof path, "%s.txt", base);
  FILE *f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "entry: %s\n", entry);
  if (!enabled_on_device) { fprintf(f, "the driver does not offer " EXT_NAME "\n"); fclose(f); return; }
  PFN_vkGetPipelineExecutablePropertiesKHR props = (PFN_vkGetPipelineExecutablePropertiesKHR)next_gdpa(d, "vkGetPipelineExecutablePropertiesKHR");
  PFN_vkGetPipelineExecutableStatisticsKHR stats = (PFN_vkGetPipelineExecutableStatisticsKHR)next_gdpa(d, "vkGetPipelineExecutableStatisticsKHR");
  PFN_vkGetPipelineExecutableInternalRepresentationsKHR irs = (PFN_vkGetPipelineExecutableInternalRepresentationsKHR)next_gdpa(d, "vkGetPipelineExecutableInternalRepresentationsKHR");
  VkPipelineInfoKHR pi = { .sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, .pipeline = p };
  uint32_t n = 0;
  if (!props || props(d, &pi, &n, NULL) != VK_SUCCESS) { fprintf(f, "vkGetPipelineExecutablePropertiesKHR failed\n"); fclose(f); return; }
  VkPipelineExecutablePropertiesKHR *ex = calloc(n, sizeof *ex);
  for (uint32_t k = 0; k < n; k++) ex[k].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
  props(d, &pi, &n, ex);
  for (uint32_t k = 0; k < n; k++) {
    fprintf(f, "executable %u: %s (%s), subgroup size %u\n", k, ex[k].name, ex[k].description, ex[k].subgroupSize);
    VkPipelineExecutableInfoKHR ei = { .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, .pipeline = p, .executableIndex = k };
    uint32_t ns = 0;
    if (stats && stats(d, &ei, &ns, NULL) == VK_SUCCESS && ns) {
      VkPipelineExecutableStatisticKHR *s = calloc(ns, sizeof *s);
      for (uint32_t i = 0; i < ns; i++) s[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
      stats(d, &ei, &ns, s);
      for (uint32_t i = 0; i < ns; i++) { fprintf(f, "stat %s: ", s[i].name); stat_value(f, &s[i]); fprintf(f, "   # %s\n", s[i].description); }
      free(s);
    }
    uint32_t nr = 0;
    if (irs && irs(d, &ei, &nr, NULL) == VK_SUCCESS && nr) {
      VkPipelineExecutableInternalRepresentationKHR *r = calloc(nr, sizeof *r);
      for (uint32_t i = 0; i < nr; i++) r[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
      irs(d, &ei, &nr, r);   // sizes first
      for (uint32_t i = 0; i < nr; i++) r[i].pData = malloc(r[i].dataSize ? r[i].dataSize : 1);
      irs(d, &ei, &nr, r);
      for (uint32_t i = 0; i < nr; i++) {
        fprintf(f, "representation %u: %s (%s), %zu bytes%s\n", i, r[i].name, r[i].description, r[i].dataSize, r[i].isText ? ", text:" : ", binary");
        if (r[i].isText) { fwrite(r[i].pData, 1, strnlen(r[i].pData, r[i].dataSize), f); fputc('\n', f); }
        else {
          char bin[1200];
          snprintf(bin, sizeof bin, "%s.%u.%u.bin", base, k, i);
          FILE *b = fopen(bin, "wb");
          if (b) { fwrite(r[i].pData, 1, r[i].dataSize, b); fclose(b); }
        }
        free(r[i].pData);
      }
      free(r);
    }
  }
  free(ex);
  fclose(f);
}

// Remembers pipeline p's entry name (the WGSL one where Dawn kept it) and its creation number for the command log.
static void name_pipeline(VkPipeline p, const VkComputePipelineCreateInfo *ci) {
  char name[100];
  entry_name(ci->stage.module, ci->stage.pName ? ci->stage.pName : "main", name, sizeof name);
  pthread_mutex_lock(&lock);
  if (n_named < MAX_NAMED) { named[n_named].p = p; snprintf(named[n_named].name, sizeof named[n_named].name, "%s#%u", name, n_named); n_named++; }
  pthread_mutex_unlock(&lock);
}

static VKAPI_ATTR VkResult VKAPI_CALL fp_CreateComputePipelines(VkDevice d, VkPipelineCache cache, uint32_t n, const VkComputePipelineCreateInfo *ci,
    const VkAllocationCallbacks *a, VkPipeline *p) {
  PFN_vkCreateComputePipelines next = (PFN_vkCreateComputePipelines)next_gdpa(d, "vkCreateComputePipelines");
  const char *dir = out_dir();
  if (!dir) {
    VkResult r = next(d, cache, n, ci, a, p);
    if (r == VK_SUCCESS && cmd_log()) for (uint32_t i = 0; i < n; i++) name_pipeline(p[i], &ci[i]);
    return r;
  }
  VkComputePipelineCreateInfo *c = calloc(n, sizeof *c);
  memcpy(c, ci, n * sizeof *c);
  if (enabled_on_device)
    for (uint32_t i = 0; i < n; i++) c[i].flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR | VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR;
  VkResult r = next(d, cache, n, c, a, p);
  if (r == VK_SUCCESS) {
    for (uint32_t i = 0; i < n; i++) {
      pthread_mutex_lock(&lock);
      unsigned k = seq++;
      pthread_mutex_unlock(&lock);
      char base[1024], name[256];
      const char *entry = c[i].stage.pName ? c[i].stage.pName : "main";
      entry_name(c[i].stage.module, entry, name, sizeof name);
      snprintf(base, sizeof base, "%.700s/%04u_%.200s", dir, k, name);
      write_spirv(base, c[i].stage.module);
      write_stats(d, p[i], base, entry);
      if (cmd_log()) name_pipeline(p[i], &c[i]);
    }
  }
  free(c);
  return r;
}

// The command log's hooks (installed only while FAPOOL_CMDLOG is set): each writes its line, then calls the driver.
static VKAPI_ATTR void VKAPI_CALL fp_CmdBindPipeline(VkCommandBuffer cb, VkPipelineBindPoint bp, VkPipeline p) {
  if (cmd_log()) fprintf(cmd_log(), "bind %s\n", pipeline_name(p));
  next_cmd.bind(cb, bp, p);
}
static VKAPI_ATTR void VKAPI_CALL fp_CmdDispatch(VkCommandBuffer cb, uint32_t x, uint32_t y, uint32_t z) {
  if (cmd_log()) fprintf(cmd_log(), "dispatch %u %u %u\n", x, y, z);
  next_cmd.dispatch(cb, x, y, z);
}
static VKAPI_ATTR void VKAPI_CALL fp_CmdPipelineBarrier(VkCommandBuffer cb, VkPipelineStageFlags src, VkPipelineStageFlags dst, VkDependencyFlags f,
    uint32_t nm, const VkMemoryBarrier *m, uint32_t nb, const VkBufferMemoryBarrier *b, uint32_t ni, const VkImageMemoryBarrier *im) {
  FILE *l = cmd_log();
  if (l) {
    fprintf(l, "barrier stages %#x -> %#x, %u memory %u buffer %u image", src, dst, nm, nb, ni);
    for (uint32_t i = 0; i < nm; i++) fprintf(l, " [access %#x -> %#x]", m[i].srcAccessMask, m[i].dstAccessMask);
    for (uint32_t i = 0; i < nb; i++) fprintf(l, " [buffer %p access %#x -> %#x]", (void *)b[i].buffer, b[i].srcAccessMask, b[i].dstAccessMask);
    fputc('\n', l);
  }
  next_cmd.barrier(cb, src, dst, f, nm, m, nb, b, ni, im);
}
static VKAPI_ATTR void VKAPI_CALL fp_CmdPipelineBarrier2(VkCommandBuffer cb, const VkDependencyInfo *di) {
  FILE *l = cmd_log();
  if (l) {
    fprintf(l, "barrier2 %u memory %u buffer %u image", di->memoryBarrierCount, di->bufferMemoryBarrierCount, di->imageMemoryBarrierCount);
    for (uint32_t i = 0; i < di->memoryBarrierCount; i++) {
      const VkMemoryBarrier2 *m = &di->pMemoryBarriers[i];
      fprintf(l, " [stages %#llx -> %#llx access %#llx -> %#llx]", (unsigned long long)m->srcStageMask, (unsigned long long)m->dstStageMask,
              (unsigned long long)m->srcAccessMask, (unsigned long long)m->dstAccessMask);
    }
    fputc('\n', l);
  }
  next_cmd.barrier2(cb, di);
}
static VKAPI_ATTR void VKAPI_CALL fp_CmdCopyBuffer(VkCommandBuffer cb, VkBuffer s, VkBuffer d, uint32_t n, const VkBufferCopy *r) {
  if (cmd_log()) fprintf(cmd_log(), "copy %p -> %p (%u regions)\n", (void *)s, (void *)d, n);
  next_cmd.copy(cb, s, d, n, r);
}
static VKAPI_ATTR void VKAPI_CALL fp_CmdWriteTimestamp(VkCommandBuffer cb, VkPipelineStageFlagBits st, VkQueryPool q, uint32_t i) {
  if (cmd_log()) fprintf(cmd_log(), "timestamp stage %#x query %u\n", st, i);
  next_cmd.timestamp(cb, st, q, i);
}
static VKAPI_ATTR VkResult VKAPI_CALL fp_QueueSubmit(VkQueue q, uint32_t n, const VkSubmitInfo *s, VkFence f) {
  if (cmd_log()) { fprintf(cmd_log(), "submit %u\n", n); fflush(cmd_log()); }
  return next_cmd.submit(q, n, s, f);
}

static PFN_vkVoidFunction ours(const char *name);

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL fp_GetDeviceProcAddr(VkDevice d, const char *name) {
  PFN_vkVoidFunction f = ours(name);
  if (f && strcmp(name, "vkCreateInstance") && strcmp(name, "vkCreateDevice")) return f;
  return next_gdpa ? next_gdpa(d, name) : NULL;
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL fp_GetInstanceProcAddr(VkInstance inst, const char *name) {
  PFN_vkVoidFunction f = ours(name);
  if (f) return f;
  return next_gipa ? next_gipa(inst, name) : NULL;
}

struct hook { const char *name; PFN_vkVoidFunction f; };
static PFN_vkVoidFunction lookup(const struct hook *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) if (!strcmp(name, t[i].name)) return t[i].f;
  return NULL;
}

static PFN_vkVoidFunction ours(const char *name) {
  static const struct hook table[] = {
    { "vkGetInstanceProcAddr", (PFN_vkVoidFunction)fp_GetInstanceProcAddr },
    { "vkGetDeviceProcAddr", (PFN_vkVoidFunction)fp_GetDeviceProcAddr },
    { "vkCreateInstance", (PFN_vkVoidFunction)fp_CreateInstance },
    { "vkCreateDevice", (PFN_vkVoidFunction)fp_CreateDevice },
    { "vkCreateShaderModule", (PFN_vkVoidFunction)fp_CreateShaderModule },
    { "vkDestroyShaderModule", (PFN_vkVoidFunction)fp_DestroyShaderModule },
    { "vkCreateComputePipelines", (PFN_vkVoidFunction)fp_CreateComputePipelines },
  };
  // The command log's hooks only while it is asked for, so that the layer costs no call otherwise.
  static const struct hook cmd_table[] = {
    { "vkCmdBindPipeline", (PFN_vkVoidFunction)fp_CmdBindPipeline },
    { "vkCmdDispatch", (PFN_vkVoidFunction)fp_CmdDispatch },
    { "vkCmdPipelineBarrier", (PFN_vkVoidFunction)fp_CmdPipelineBarrier },
    { "vkCmdPipelineBarrier2", (PFN_vkVoidFunction)fp_CmdPipelineBarrier2 },
    { "vkCmdPipelineBarrier2KHR", (PFN_vkVoidFunction)fp_CmdPipelineBarrier2 },
    { "vkCmdCopyBuffer", (PFN_vkVoidFunction)fp_CmdCopyBuffer },
    { "vkCmdWriteTimestamp", (PFN_vkVoidFunction)fp_CmdWriteTimestamp },
    { "vkQueueSubmit", (PFN_vkVoidFunction)fp_QueueSubmit },
  };
  PFN_vkVoidFunction f = lookup(table, sizeof table / sizeof table[0], name);
  return f || !getenv("FAPOOL_CMDLOG") ? f : lookup(cmd_table, sizeof cmd_table / sizeof cmd_table[0], name);
}

EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetInstanceProcAddr(VkInstance inst, const char *name) { return fp_GetInstanceProcAddr(inst, name); }
EXPORT VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL vkGetDeviceProcAddr(VkDevice d, const char *name) { return fp_GetDeviceProcAddr(d, name); }

EXPORT VKAPI_ATTR VkResult VKAPI_CALL vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *v) {
  if (v->loaderLayerInterfaceVersion > 2) v->loaderLayerInterfaceVersion = 2;
  v->pfnGetInstanceProcAddr = fp_GetInstanceProcAddr;
  v->pfnGetDeviceProcAddr = fp_GetDeviceProcAddr;
  v->pfnGetPhysicalDeviceProcAddr = NULL;
  return VK_SUCCESS;
}
