/*
 * vmic: a virtual microphone for tests on machines with no sound card.
 *
 * An ALSA external I/O ("ioplug") capture plugin that serves a 16-bit PCM WAV file as if it were
 * being spoken into a microphone right now: the stream advances with the monotonic clock at the
 * file's own rate and channel count, so an application reads it through the real ALSA path, at
 * the real pace. After the file ends it serves silence (end "silence", the default), starts over
 * (end "loop"), or behaves like a microphone pulled out of its socket (end "unplug": the PCM goes
 * to the DISCONNECTED state and poll reports POLLHUP, so reads fail with -ENODEV).
 * With `fail "EACCES"` (or "EBUSY", "ENODEV") opening fails as a microphone that is not allowed,
 * in use elsewhere, or gone would.
 *
 * Build:  cc -O2 -DPIC -shared -fPIC -o libasound_module_pcm_vmic.so vmic.c -lasound
 * (-DPIC is required: without it alsa-lib fails to load it with "undefined symbol: snd_dlsym_start").
 *
 * Config (absolute paths; load with ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:/abs/vmic.conf):
 *   pcm_type.vmic { lib "/abs/libasound_module_pcm_vmic.so" }
 *   pcm.vmic_raw { type vmic  file "/abs/speech.wav"  end "silence"  hint.show off }
 *   pcm.vmic { type plug  slave.pcm "vmic_raw"  hint { show on description "Virtual microphone" } }
 *   pcm.!default "vmic"
 *
 * Pitfalls this design answers:
 *  - what is served depends only on the stream position (appl_ptr), never on how often ALSA
 *    calls the plugin: in mmap capture ioplug may ask for the same frames more than once;
 *  - the poll descriptor is a timer firing every quarter period, because plugins stacked above
 *    (plug, rate, ...) hold partial periods and must be woken before a whole period is ready.
 */

#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum vmic_end { VMIC_END_SILENCE, VMIC_END_LOOP, VMIC_END_UNPLUG };

typedef struct {
	snd_pcm_ioplug_t io;
	int16_t *samples; /* interleaved, host order */
	snd_pcm_uframes_t frames;
	unsigned int channels;
	unsigned int rate;
	enum vmic_end end;
	int timer_fd;
	int running;
	struct timespec started;
	/* file frames that went by in earlier runs (before an overrun and the restart after it). */
	uint64_t base;
	/* where the stream position stopped, while not running. */
	uint64_t frozen;
	snd_pcm_uframes_t avail_min;
} vmic_t;

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int load_wav(vmic_t *v, const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long len = 0;
	size_t pos = 12;
	int have_fmt = 0;

	if (!f) {
		int err = -errno;
		SNDERR("vmic: cannot open %s: %s", path, strerror(-err));
		return err;
	}
	if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 12 && !fseek(f, 0, SEEK_SET))
		buf = malloc(len);
	if (!buf || fread(buf, 1, len, f) != (size_t)len || memcmp(buf, "RIFF", 4) ||
	    memcmp(buf + 8, "WAVE", 4))
		len = 0;
	fclose(f);
	while (pos + 8 <= (size_t)len) {
		uint32_t size = le32(buf + pos + 4);
		const unsigned char *body = buf + pos + 8;
		size_t room = (size_t)len - pos - 8;
		if (!memcmp(buf + pos, "fmt ", 4) && size >= 16 && room >= 16) {
			uint16_t format = le16(body), bits = le16(body + 14);
			if ((format != 1 && format != 0xFFFE) || bits != 16)
				break;
			v->channels = le16(body + 2);
			v->rate = le32(body + 4);
			have_fmt = v->channels > 0 && v->rate > 0;
		} else if (!memcmp(buf + pos, "data", 4) && have_fmt) {
			size_t bytes = size > room ? room : size;
			size_t i, n;
			v->frames = bytes / (2 * (size_t)v->channels);
			n = v->frames * v->channels;
			v->samples = malloc(n ? n * 2 : 2);
			if (!v->samples)
				break;
			for (i = 0; i < n; i++)
				v->samples[i] = (int16_t)le16(body + 2 * i);
			free(buf);
			return 0;
		}
		pos += 8 + (size_t)size + (size & 1);
	}
	free(buf);
	SNDERR("vmic: %s is not a 16-bit PCM WAV file", path);
	return -EINVAL;
}

/* Frames the device has "recorded" since start, from the monotonic clock. */
static uint64_t elapsed_frames(const vmic_t *v)
{
	struct timespec now;
	int64_t ns;

	if (!v->running)
		return v->frozen;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(now.tv_sec - v->started.tv_sec) * 1000000000LL +
	     (now.tv_nsec - v->started.tv_nsec);
	return ns <= 0 ? 0 : (uint64_t)((__int128)ns * v->rate / 1000000000LL);
}

static int unplugged(const vmic_t *v)
{
	return v->end == VMIC_END_UNPLUG && v->running && v->base + elapsed_frames(v) >= v->frames;
}

static void halt(vmic_t *v)
{
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };

	if (!v->running)
		return;
	v->frozen = elapsed_frames(v);
	v->base += v->frozen;
	v->running = 0;
	timerfd_settime(v->timer_fd, 0, &off, NULL);
}

static int vmic_start(snd_pcm_ioplug_t *io)
{
	vmic_t *v = io->private_data;
	uint64_t quarter_ns = (uint64_t)io->period_size * 1000000000ULL / v->rate / 4;
	struct itimerspec tick;

	if (quarter_ns < 500000)
		quarter_ns = 500000;
	tick.it_interval.tv_sec = quarter_ns / 1000000000ULL;
	tick.it_interval.tv_nsec = quarter_ns % 1000000000ULL;
	tick.it_value = tick.it_interval;
	clock_gettime(CLOCK_MONOTONIC, &v->started);
	v->running = 1;
	if (timerfd_settime(v->timer_fd, 0, &tick, NULL) < 0)
		return -errno;
	return 0;
}

static int vmic_stop(snd_pcm_ioplug_t *io)
{
	halt(io->private_data);
	return 0;
}

static int vmic_prepare(snd_pcm_ioplug_t *io)
{
	vmic_t *v = io->private_data;

	/* Prepare after an overrun comes straight from the XRUN state, without stop. */
	halt(v);
	v->frozen = 0;
	return 0;
}

static snd_pcm_sframes_t vmic_pointer(snd_pcm_ioplug_t *io)
{
	vmic_t *v = io->private_data;
	uint64_t hw = elapsed_frames(v);

	/* Like a real capture device: if the application fell a whole buffer behind, it overran.
	 * (A negative return would turn a DISCONNECTED stream into XRUN, so not once unplugged.) */
	if (io->state != SND_PCM_STATE_DISCONNECTED && hw - io->appl_ptr > io->buffer_size)
		return -EPIPE;
	return (snd_pcm_sframes_t)(hw % io->buffer_size);
}

static snd_pcm_sframes_t vmic_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
				       snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
	vmic_t *v = io->private_data;
	uint64_t first = v->base + io->appl_ptr;
	snd_pcm_uframes_t i;
	unsigned int c;

	if (io->state == SND_PCM_STATE_DISCONNECTED)
		return -ENODEV;
	for (i = 0; i < size; i++) {
		uint64_t pos = first + i;
		const int16_t *frame = NULL;
		if (v->frames && v->end == VMIC_END_LOOP)
			frame = v->samples + (pos % v->frames) * v->channels;
		else if (pos < v->frames)
			frame = v->samples + pos * v->channels;
		for (c = 0; c < io->channels; c++) {
			const snd_pcm_channel_area_t *a = &areas[c];
			int16_t *dst = (int16_t *)((char *)a->addr +
						   (a->first + (offset + i) * a->step) / 8);
			*dst = frame ? frame[c] : 0;
		}
	}
	return (snd_pcm_sframes_t)size;
}

static int vmic_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
	vmic_t *v = io->private_data;
	snd_pcm_uframes_t avail_min = 0;

	if (snd_pcm_sw_params_get_avail_min(params, &avail_min) == 0 && avail_min > 0)
		v->avail_min = avail_min;
	return 0;
}

static int vmic_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	vmic_t *v = io->private_data;
	(void)params;
	v->avail_min = io->period_size;
	return 0;
}

static int vmic_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds,
			     unsigned short *revents)
{
	vmic_t *v = io->private_data;
	uint64_t ticks;
	ssize_t got;

	(void)pfd;
	(void)nfds;
	got = read(v->timer_fd, &ticks, sizeof(ticks));
	(void)got;
	if (io->state == SND_PCM_STATE_DISCONNECTED || unplugged(v)) {
		snd_pcm_ioplug_set_state(io, SND_PCM_STATE_DISCONNECTED);
		*revents = POLLIN | POLLERR | POLLHUP;
		return 0;
	}
	*revents = elapsed_frames(v) - io->appl_ptr >= v->avail_min ? POLLIN : 0;
	return 0;
}

static int vmic_close(snd_pcm_ioplug_t *io)
{
	vmic_t *v = io->private_data;

	close(v->timer_fd);
	free(v->samples);
	free(v);
	return 0;
}

static const snd_pcm_ioplug_callback_t vmic_callbacks = {
	.start = vmic_start,
	.stop = vmic_stop,
	.pointer = vmic_pointer,
	.transfer = vmic_transfer,
	.close = vmic_close,
	.hw_params = vmic_hw_params,
	.sw_params = vmic_sw_params,
	.prepare = vmic_prepare,
	.poll_revents = vmic_poll_revents,
};

static int set_constraints(vmic_t *v)
{
	static const unsigned int access[] = { SND_PCM_ACCESS_RW_INTERLEAVED,
					       SND_PCM_ACCESS_MMAP_INTERLEAVED };
	static const unsigned int format[] = { SND_PCM_FORMAT_S16 };
	unsigned int frame_bytes = 2 * v->channels;
	int err;

	if ((err = snd_pcm_ioplug_set_param_list(&v->io, SND_PCM_IOPLUG_HW_ACCESS, 2, access)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&v->io, SND_PCM_IOPLUG_HW_FORMAT, 1, format)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&v->io, SND_PCM_IOPLUG_HW_CHANNELS, 1,
						 &v->channels)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_list(&v->io, SND_PCM_IOPLUG_HW_RATE, 1, &v->rate)) < 0 ||
	    /* >= 256 frames: smaller buffers made plugins stacked above stall. */
	    (err = snd_pcm_ioplug_set_param_minmax(&v->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES,
						   256 * frame_bytes, 8192 * frame_bytes)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&v->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES,
						   1024 * frame_bytes, 65536 * frame_bytes)) < 0 ||
	    (err = snd_pcm_ioplug_set_param_minmax(&v->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 32)) < 0)
		return err;
	return 0;
}

SND_PCM_PLUGIN_DEFINE_FUNC(vmic)
{
	snd_config_iterator_t i, next;
	const char *file = NULL, *end = "silence", *fail = NULL;
	vmic_t *v;
	int err;

	(void)root;
	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;
		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") || !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "file")) {
			if (snd_config_get_string(n, &file) < 0) {
				SNDERR("vmic: file must be a string");
				return -EINVAL;
			}
			continue;
		}
		if (!strcmp(id, "end")) {
			if (snd_config_get_string(n, &end) < 0) {
				SNDERR("vmic: end must be a string");
				return -EINVAL;
			}
			continue;
		}
		if (!strcmp(id, "fail")) {
			if (snd_config_get_string(n, &fail) < 0) {
				SNDERR("vmic: fail must be a string");
				return -EINVAL;
			}
			continue;
		}
		SNDERR("vmic: unknown field %s", id);
		return -EINVAL;
	}
	if (!file) {
		SNDERR("vmic: no file given");
		return -EINVAL;
	}
	if (stream != SND_PCM_STREAM_CAPTURE)
		return -ENOENT;
	if (fail) {
		if (!strcmp(fail, "EACCES"))
			return -EACCES;
		if (!strcmp(fail, "EBUSY"))
			return -EBUSY;
		if (!strcmp(fail, "ENODEV"))
			return -ENODEV;
		SNDERR("vmic: fail must be EACCES, EBUSY or ENODEV, not %s", fail);
		return -EINVAL;
	}

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (!strcmp(end, "loop"))
		v->end = VMIC_END_LOOP;
	else if (!strcmp(end, "unplug"))
		v->end = VMIC_END_UNPLUG;
	else if (!strcmp(end, "silence"))
		v->end = VMIC_END_SILENCE;
	else {
		SNDERR("vmic: end must be silence, loop or unplug, not %s", end);
		free(v);
		return -EINVAL;
	}
	err = load_wav(v, file);
	if (err < 0) {
		free(v->samples);
		free(v);
		return err;
	}
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->timer_fd < 0) {
		err = -errno;
		free(v->samples);
		free(v);
		return err;
	}

	v->io.version = SND_PCM_IOPLUG_VERSION;
	v->io.name = "notedraft virtual microphone";
	v->io.callback = &vmic_callbacks;
	v->io.private_data = v;
	v->io.poll_fd = v->timer_fd;
	v->io.poll_events = POLLIN;
	v->io.mmap_rw = 0;

	err = snd_pcm_ioplug_create(&v->io, name, stream, mode);
	if (err < 0) {
		close(v->timer_fd);
		free(v->samples);
		free(v);
		return err;
	}
	err = set_constraints(v);
	if (err < 0) {
		snd_pcm_ioplug_delete(&v->io);
		return err;
	}
	*pcmp = v->io.pcm;
	return 0;
}

SND_PCM_PLUGIN_SYMBOL(vmic);
