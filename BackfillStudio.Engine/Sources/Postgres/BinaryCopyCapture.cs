using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using BackfillStudio.Engine.Batches;

namespace BackfillStudio.Engine.Sources.Postgres;

/// <summary>
/// A single-column integer key in a binary COPY's tuples: the field that holds it, its width in bytes (2, 4 or 8), and
/// the table and column it is, for the error when the source sends another width (the column's type changed after the
/// job read the catalog).
/// </summary>
public sealed record IntegerCopyKey(int Field, int Width, string Table, string Column);

/// <summary>
/// Cuts the output of one <c>COPY (SELECT ...) TO STDOUT (FORMAT BINARY)</c> into batches as it streams, each a binary
/// COPY of its own (the output's header, its tuples, a trailer), and gives the key of each batch's last tuple. The key is
/// either the row's key as text in trailing fields (<paramref name="keyFields"/> columns), which a batch keeps each tuple
/// without, or, for a single integer key, <paramref name="integerKey"/>: one of the kept fields, read from its binary
/// form (so the tuples pass as they came). Other field values are never decoded; only their lengths are read to find the
/// tuples' ends. What was read past a batch's end is kept for the next one.
/// </summary>
/// <param name="buffers">Where buffers come from and go back to once their batch is written.</param>
public sealed class BinaryCopyCapture(int fields, int keyFields, BinaryCopyBuffers buffers, IntegerCopyKey? integerKey = null)
{
    private static ReadOnlySpan<byte> Signature => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xff, (byte)'\r', (byte)'\n', 0];

    private byte[]? _header;
    private byte[] _carry = [];
    private int _carryLength;

    private byte[] _buffer = [];
    /// <summary>[0, _written) holds the batch; [_parsed, _filled) input not parsed yet. _written ≤ _parsed always.</summary>
    private int _written, _parsed, _filled;
    private int _rows;
    private readonly byte[][] _lastKey = new byte[keyFields][];
    private readonly int[] _lastKeyLength = new int[keyFields];
    private long _lastIntegerKey;

    /// <summary>Whether the output's trailer was read: no batch follows.</summary>
    public bool Ended { get; private set; }

    /// <summary>
    /// The next batch: up to <paramref name="maxRows"/> tuples and about <paramref name="budget"/> bytes (at least one
    /// tuple), or fewer when the output ends; no rows once it has. The key is its last tuple's (null without rows or key fields).
    /// </summary>
    public async Task<(BinaryCopyRows Rows, string[]? LastKey)> NextAsync(Stream copy, int maxRows, long budget, CancellationToken ct)
    {
        _buffer = buffers.Rent();
        _rows = 0;
        _filled = 0;
        if (_header is null)
        {
            await ReadHeaderAsync(copy, budget, ct);
            _header = _buffer.AsSpan(0, _parsed).ToArray();
        }
        else
        {
            EnsureCapacity(_header.Length + _carryLength, budget);
            _header.CopyTo(_buffer, 0);
            _carry.AsSpan(0, _carryLength).CopyTo(_buffer.AsSpan(_header.Length));
            _parsed = _header.Length;
            _filled = _header.Length + _carryLength;
        }
        var headerLength = _header.Length;
        _written = _parsed;
        while (!Ended && _rows < maxRows && _written - headerLength < budget)
        {
            if (TryParseTuple(out var ended)) Ended = ended;
            else if (!await FillAsync(copy, budget, ct)) throw Malformed("ended inside a row");
        }
        KeepCarry();
        EnsureCapacity(_written + 2, budget);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_written), -1);
        var rows = new BinaryCopyRows(_buffer, _written + 2, _rows, buffers.Return);
        var lastKey = _rows == 0 ? null
            : integerKey is not null ? [_lastIntegerKey.ToString(CultureInfo.InvariantCulture)]
            : keyFields == 0 ? null
            : Enumerable.Range(0, keyFields).Select(i => Encoding.UTF8.GetString(_lastKey[i], 0, _lastKeyLength[i])).ToArray();
        return (rows, lastKey);
    }

    private async Task ReadHeaderAsync(Stream copy, long budget, CancellationToken ct)
    {
        while (_filled < BinaryCopyCursor.FixedHeaderLength)
            if (!await FillAsync(copy, budget, ct)) throw Malformed("has no header");
        if (!_buffer.AsSpan(0, Signature.Length).SequenceEqual(Signature)) throw Malformed("has an unknown signature");
        var extension = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(15));
        while (_filled < BinaryCopyCursor.FixedHeaderLength + extension)
            if (!await FillAsync(copy, budget, ct)) throw Malformed("has a truncated header");
        _parsed = BinaryCopyCursor.FixedHeaderLength + extension;
    }

    /// <summary>Keeps the input read past the batch (a part of the next tuple, or more) for the next batch.</summary>
    private void KeepCarry()
    {
        _carryLength = _filled - _parsed;
        if (_carry.Length < _carryLength) _carry = new byte[Math.Max(_carryLength, 2 * _carry.Length)];
        _buffer.AsSpan(_parsed, _carryLength).CopyTo(_carry);
    }

    /// <summary>
    /// Parses the tuple at <see cref="_parsed"/> when it is whole in the buffer (false otherwise, nothing moved): moves its
    /// kept fields down to <see cref="_written"/> and remembers its key. <paramref name="ended"/>: it was the trailer.
    /// </summary>
    private bool TryParseTuple(out bool ended)
    {
        ended = false;
        var span = _buffer.AsSpan(0, _filled);
        var position = _parsed;
        if (position + 2 > span.Length) return false;
        var count = BinaryPrimitives.ReadInt16BigEndian(span[position..]);
        if (count == -1)
        {
            ended = true;
            _parsed = position + 2;
            return true;
        }
        if (count != fields + keyFields) throw Malformed($"has a row of {count} fields where {fields + keyFields} were expected");
        position += 2;
        var keptEnd = 0;
        var integerStart = -1;
        Span<int> keyStart = stackalloc int[keyFields];
        Span<int> keyLength = stackalloc int[keyFields];
        for (var i = 0; i < count; i++)
        {
            if (i == fields) keptEnd = position;
            if (position + 4 > span.Length) return false;
            var length = BinaryPrimitives.ReadInt32BigEndian(span[position..]);
            position += 4;
            if (i >= fields)
            {
                keyStart[i - fields] = position;
                keyLength[i - fields] = Math.Max(length, 0);
            }
            else if (i == integerKey?.Field)
            {
                if (length != integerKey.Width)
                    throw Malformed($"has a key of {length} bytes in column {integerKey.Column} of {integerKey.Table} where {integerKey.Width} were " +
                                    "expected: its type changed since the job read the table's columns");
                integerStart = position;
            }
            if (length > 0) position += length;
            if (position > span.Length) return false;
        }
        if (keyFields == 0) keptEnd = position;
        if (integerStart >= 0)
        {
            var key = span.Slice(integerStart, integerKey!.Width);
            _lastIntegerKey = key.Length switch
            {
                2 => BinaryPrimitives.ReadInt16BigEndian(key),
                4 => BinaryPrimitives.ReadInt32BigEndian(key),
                _ => BinaryPrimitives.ReadInt64BigEndian(key),
            };
        }

        for (var k = 0; k < keyFields; k++)
        {
            if (_lastKey[k] is null || _lastKey[k].Length < keyLength[k]) _lastKey[k] = new byte[Math.Max(64, keyLength[k])];
            span.Slice(keyStart[k], keyLength[k]).CopyTo(_lastKey[k]);
            _lastKeyLength[k] = keyLength[k];
        }
        var tupleStart = _parsed;
        if (_written != tupleStart || keyFields > 0)
        {
            BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_written), (short)fields);
            span[(tupleStart + 2)..keptEnd].CopyTo(_buffer.AsSpan(_written + 2));
        }
        _written += keptEnd - tupleStart;
        _parsed = position;
        _rows++;
        return true;
    }

    /// <summary>Reads more input, first moving unparsed bytes down to the batch's end, then growing the buffer if still full.</summary>
    private async Task<bool> FillAsync(Stream copy, long budget, CancellationToken ct)
    {
        if (_filled == _buffer.Length && _parsed > _written)
        {
            _buffer.AsSpan(_parsed, _filled - _parsed).CopyTo(_buffer.AsSpan(_written));
            _filled -= _parsed - _written;
            _parsed = _written;
        }
        EnsureCapacity(_filled + 1, budget);
        var read = await copy.ReadAsync(_buffer.AsMemory(_filled), ct);
        _filled += read;
        return read > 0;
    }

    /// <summary>
    /// Grows the buffer to hold <paramref name="size"/> bytes: doubling up to about the budget (a batch of wide rows holds
    /// about that; a block range, read whole, has no budget), past it (a row straddling the budget, or one larger than it)
    /// by an eighth; never by just what one read needs, which would copy the whole buffer for every few bytes read.
    /// </summary>
    private void EnsureCapacity(int size, long budget)
    {
        if (size <= _buffer.Length) return;
        var budgetCap = budget >= Array.MaxLength - 1024 * 1024 ? Array.MaxLength : (int)budget + 1024 * 1024;
        var grown = _buffer.Length < budgetCap ? Math.Min(2L * _buffer.Length, budgetCap) : _buffer.Length + Math.Max(1024L * 1024, _buffer.Length / 8);
        Array.Resize(ref _buffer, (int)Math.Min(Array.MaxLength, Math.Max(size, grown)));
        buffers.Grew(_buffer.Length);
    }

    private static InvalidDataException Malformed(string what) => new($"The source's binary COPY output {what}.");
}
