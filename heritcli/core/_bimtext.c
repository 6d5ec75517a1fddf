/*
 * Tokenizer for the text of a PLINK .bim file, the fast path of heritcli.io.plink.read_bim.
 *
 * A .bim line is six fields, CHR ID CM BP A1 A2, separated by blanks.  One sweep over the
 * bytes records where the four text fields of every line start and how long they are, and
 * parses CM (strtod) and BP (decimal int64) in place.  Only plain ASCII text is handled
 * here: fields separated by runs of spaces or tabs, lines ending in \n, \r\n or \r, blank
 * lines skipped.  Anything else (another byte below 0x20 or above 0x7e, a line without six
 * fields, a number in another spelling) makes the function return -1 without saying why;
 * the caller then reads the file line by line in Python, which accepts what Python's
 * str.split() accepts and names the first bad line.  So the two paths parse every file they
 * both accept to the same table.
 *
 * CM goes through strtod, which follows the C locale's decimal point: where a host program has
 * set another one, "0.5" is not read whole and the text goes to the Python parser.
 *
 * Built into the same extension as _bedkernels.c and called through ctypes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BIM_FIELDS 6
#define BIM_TEXT_FIELDS 4
/* An int64 has at most 19 decimal digits; 18 never overflow. */
#define MAX_POS_DIGITS 18
#define MAX_NUMBER_LENGTH 64

static int is_blank(unsigned char c) { return c == ' ' || c == '\t'; }
static int is_line_end(unsigned char c) { return c == '\n' || c == '\r'; }
static int is_printable(unsigned char c) { return c > 0x20 && c < 0x7f; }

static int parse_cm(const char *field, int64_t length, double *out)
{
    char buffer[MAX_NUMBER_LENGTH + 1];
    char *end = NULL;
    if (length > MAX_NUMBER_LENGTH)
        return 0;
    for (int64_t i = 0; i < length; i++) {
        char c = field[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
              c == '-'))
            return 0;
    }
    memcpy(buffer, field, (size_t)length);
    buffer[length] = '\0';
    *out = strtod(buffer, &end);
    return end == buffer + length;
}

static int parse_pos(const char *field, int64_t length, int64_t *out)
{
    int64_t i = 0, value = 0;
    int negative = 0;
    if (field[0] == '+' || field[0] == '-') {
        negative = field[0] == '-';
        i = 1;
    }
    if (i == length || length - i > MAX_POS_DIGITS)
        return 0;
    for (; i < length; i++) {
        if (field[i] < '0' || field[i] > '9')
            return 0;
        value = value * 10 + (field[i] - '0');
    }
    *out = negative ? -value : value;
    return 1;
}

/*
 * Tokenize `size` bytes of .bim text holding at most `capacity` variant lines.
 *
 * For variant k, starts[4k + f] and lengths[4k + f] locate CHR, ID, A1, A2 (f = 0..3) as
 * byte offsets into `text`; cm[k] and pos[k] hold its parsed CM and BP.
 *
 * Returns the number of variant lines, or -1 when the text is not of the plain form
 * described above (or has more than `capacity` variant lines).
 */
int64_t herit_bim_fields(const char *text, int64_t size, int64_t capacity, int64_t *starts,
                         int64_t *lengths, double *cm, int64_t *pos)
{
    int64_t i = 0, count = 0;
    while (i < size) {
        int64_t field_start[BIM_FIELDS], field_length[BIM_FIELDS];
        int fields = 0;
        for (;;) {
            while (i < size && is_blank((unsigned char)text[i]))
                i++;
            if (i == size || is_line_end((unsigned char)text[i]))
                break;
            if (!is_printable((unsigned char)text[i]) || fields == BIM_FIELDS)
                return -1;
            field_start[fields] = i;
            while (i < size && is_printable((unsigned char)text[i]))
                i++;
            field_length[fields] = i - field_start[fields];
            fields++;
            if (i < size && !is_blank((unsigned char)text[i]) &&
                !is_line_end((unsigned char)text[i]))
                return -1;
        }
        if (i < size)
            i++; /* the line end; "\r\n" leaves a blank line, skipped below */
        if (fields == 0)
            continue;
        if (fields != BIM_FIELDS || count == capacity)
            return -1;
        if (!parse_cm(text + field_start[2], field_length[2], &cm[count]) ||
            !parse_pos(text + field_start[3], field_length[3], &pos[count]))
            return -1;
        {
            static const int text_field[BIM_TEXT_FIELDS] = {0, 1, 4, 5};
            for (int f = 0; f < BIM_TEXT_FIELDS; f++) {
                starts[BIM_TEXT_FIELDS * count + f] = field_start[text_field[f]];
                lengths[BIM_TEXT_FIELDS * count + f] = field_length[text_field[f]];
            }
        }
        count++;
    }
    return count;
}

/*
 * Write field f of every variant into row k of a (count x width) matrix of UCS-4 code
 * points, padded with zeros: numpy reads it as fixed-width unicode ('U') strings.  Every
 * length must be <= width (the fields are ASCII, so a byte is a code point).
 */
void herit_bim_gather(const char *text, int64_t count, const int64_t *starts,
                      const int64_t *lengths, int64_t field, int64_t width, uint32_t *out)
{
    for (int64_t k = 0; k < count; k++) {
        int64_t length = lengths[BIM_TEXT_FIELDS * k + field];
        const unsigned char *source =
            (const unsigned char *)text + starts[BIM_TEXT_FIELDS * k + field];
        uint32_t *row = out + k * width;
        int64_t j = 0;
        for (; j < length; j++)
            row[j] = source[j];
        for (; j < width; j++)
            row[j] = 0;
    }
}
